"""Run inside a venv made from our wheels and nequip-allegro: build AllegroModel and evaluate it.

Usage: python allegro_build_check.py ETHANOL_XYZ. Prints one line per model dtype, then
``testkit float64 ...`` once the shared physics test-kit (:func:`nequip.nn.testkit.check_all`)
and the strict-locality check below pass on a small float64 AllegroModel, then ``nve float64
...`` once such a model survives a checkpoint round trip and conserves energy in NVE MD, then
``export float64 ...`` once ``nequip-compile --mode export`` of it gives the eager numbers, and
``pair_allegro float64 ...`` once ``nequip-compile --target pair_allegro`` (the compile target
Allegro registers, with its own inputs and data settings) writes a file that takes Allegro's
inputs and returns the eager per-atom energies and forces.
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import allegro  # noqa: F401  (the import registers Allegro's compile target and packaging externs)
import ase
import ase.io
import numpy as np
import torch
from allegro.model import AllegroModel
from ase import units
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
from ase.md.verlet import VelocityVerlet

from nequip.data import AtomicDataDict
from nequip.data.ase import from_ase
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform
from nequip.integrations.ase import NequIPCalculator
from nequip.model import ModelFromCheckpoint, save_model_checkpoint
from nequip.model.export import read_exported_metadata
from nequip.nn.testkit import assert_close, check_all, evaluate, frame_from_ase
from nequip.scripts._compile_utils import compile_target

TYPE_NAMES = ["C", "H", "O"]
R_MAX = 5.0
#: the hyperparameters of Allegro's tutorial config (statistics replaced by fixed numbers)
HYPERPARAMETERS = dict(
    seed=456,
    type_names=TYPE_NAMES,
    r_max=R_MAX,
    l_max=2,
    parity=True,
    radial_chemical_embed={
        "_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
        "num_bessels": 8,
        "bessel_trainable": False,
        "polynomial_cutoff_p": 6,
    },
    radial_chemical_embed_dim=64,
    scalar_embed_mlp_hidden_layers_depth=1,
    scalar_embed_mlp_hidden_layers_width=64,
    scalar_embed_mlp_nonlinearity="silu",
    num_layers=2,
    num_scalar_features=64,
    num_tensor_features=32,
    allegro_mlp_hidden_layers_depth=2,
    allegro_mlp_hidden_layers_width=128,
    allegro_mlp_nonlinearity="silu",
    tp_path_channel_coupling=True,
    readout_mlp_hidden_layers_depth=1,
    readout_mlp_hidden_layers_width=32,
    readout_mlp_nonlinearity=None,
    avg_num_neighbors=8.0,
    per_type_energy_shifts={"C": -10.0, "H": -1.0, "O": -20.0},
    per_type_energy_scales=1.0,
)


#: a small model for the test-kit (its finite differences evaluate the model hundreds of times)
SMALL_HYPERPARAMETERS = dict(
    HYPERPARAMETERS,
    radial_chemical_embed=dict(HYPERPARAMETERS["radial_chemical_embed"], num_bessels=4),
    radial_chemical_embed_dim=8,
    scalar_embed_mlp_hidden_layers_width=8,
    num_scalar_features=8,
    num_tensor_features=4,
    allegro_mlp_hidden_layers_depth=1,
    allegro_mlp_hidden_layers_width=8,
    readout_mlp_hidden_layers_width=8,
    avg_num_neighbors=3.0,
    per_type_energy_scales=1.3,
)

#: the small model with per-atom energies scaled down: random weights then give forces of
#: about 0.1 eV/Å on ethanol, so a 300 K NVE run stays a vibrating molecule (at full scale
#: the random attraction pulls atoms together within 50 fs)
MD_HYPERPARAMETERS = dict(SMALL_HYPERPARAMETERS, per_type_energy_scales=0.1)
#: NVE steps of 0.5 fs, and the bound on max |E_total(t) - E_total(0)| (eV) over them
MD_STEPS, MD_TIMESTEP_FS, MD_ENERGY_BOUND = 100, 0.5, 2e-3


def check_strict_locality(model, seed: int = 0) -> None:
    """Allegro's per-atom energy E_i depends only on the atoms within ``R_MAX`` of atom i.

    (Stronger than the test-kit's locality check, which a message-passing model also
    passes: here the moved atom stays within ``R_MAX`` of other atoms.) In a cluster about
    2.5 ``R_MAX`` long, each atom j is moved a little; every atom farther than ``R_MAX``
    from j before and after the move keeps its energy, and some atom near j does not (so
    the move is seen at all).
    """
    rng = np.random.default_rng(seed)
    box = np.array([2.5 * R_MAX, 0.6 * R_MAX, 0.6 * R_MAX])
    points = []
    while len(points) < 8:
        point = rng.uniform(0.0, 1.0, size=3) * box
        if all(np.linalg.norm(point - other) >= 0.3 * R_MAX for other in points):
            points.append(point)
    positions = np.array(points)
    symbols = [TYPE_NAMES[i % len(TYPE_NAMES)] for i in range(len(positions))]
    data = frame_from_ase(ase.Atoms(symbols=symbols, positions=positions), TYPE_NAMES, R_MAX)
    before = evaluate(model, data)[AtomicDataDict.PER_ATOM_ENERGY_KEY]
    num_far_checked = 0
    for j in range(len(positions)):
        moved_positions = positions.copy()
        moved_positions[j] += rng.normal(scale=0.1, size=3)
        moved = frame_from_ase(ase.Atoms(symbols=symbols, positions=moved_positions), TYPE_NAMES, R_MAX)
        after = evaluate(model, moved)[AtomicDataDict.PER_ATOM_ENERGY_KEY]
        distance_before = np.linalg.norm(positions - positions[j], axis=1)
        distance_after = np.linalg.norm(moved_positions - moved_positions[j], axis=1)
        far = torch.from_numpy(np.minimum(distance_before, distance_after) > R_MAX)
        assert bool((after[~far] - before[~far]).abs().max() > 1e-6), f"moving atom {j} changed no energy"
        if bool(far.any()):
            assert_close(
                f"strict locality: energies of atoms beyond r_max of moved atom {j}", after[far], before[far], 1e-9
            )
            num_far_checked += int(far.sum())
    assert num_far_checked > 0, "the cluster has no pair farther apart than r_max"


def frame(atoms):
    data = ChemicalSpeciesToAtomTypeMapper(chemical_symbols=TYPE_NAMES)(from_ase(atoms))
    return NeighborListTransform(r_max=R_MAX)(data)


def energy(model, atoms) -> float:
    return float(model(frame(atoms))[AtomicDataDict.TOTAL_ENERGY_KEY].detach())


def check_checkpoint_round_trip(model, checkpoint: Path, atoms) -> None:
    """``save_model_checkpoint`` then ``ModelFromCheckpoint`` gives the same energy and forces."""
    save_model_checkpoint(str(checkpoint), model)
    reloaded = ModelFromCheckpoint(str(checkpoint))
    expected, got = model(frame(atoms)), reloaded(frame(atoms))
    for key in (AtomicDataDict.TOTAL_ENERGY_KEY, AtomicDataDict.FORCE_KEY):
        assert_close(f"{key} after the checkpoint round trip", got[key].detach(), expected[key].detach(), 1e-12)


def nve_energy_spread(calculator, atoms, timestep_fs: float, num_steps: int) -> float:
    """Largest |E_total(t) - E_total(0)| (eV) of velocity-Verlet NVE from 300 K Maxwell-Boltzmann velocities."""
    atoms = atoms.copy()
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    total = [atoms.get_total_energy()]
    dynamics = VelocityVerlet(atoms, timestep=timestep_fs * units.fs)
    dynamics.attach(lambda: total.append(atoms.get_total_energy()), interval=1)
    dynamics.run(num_steps)
    assert len(total) == num_steps + 2, len(total)  # the initial value, then once at the start and after each step
    return float(np.abs(np.array(total) - total[0]).max())


def check_nve(checkpoint: Path, atoms) -> float:
    """NVE with ``NequIPCalculator.from_checkpoint`` conserves energy, with velocity Verlet's dt² error.

    Returns the energy spread of the ``MD_STEPS`` steps of ``MD_TIMESTEP_FS``; halving the
    step (twice the steps, same simulated time) must cut it about fourfold, which forces
    that are not -dE/dr would not do.
    """
    calculator = NequIPCalculator.from_checkpoint(str(checkpoint))
    spread = nve_energy_spread(calculator, atoms, MD_TIMESTEP_FS, MD_STEPS)
    assert spread < MD_ENERGY_BOUND, f"NVE energy spread {spread:.3g} eV exceeds {MD_ENERGY_BOUND} eV"
    half_step = nve_energy_spread(calculator, atoms, MD_TIMESTEP_FS / 2, 2 * MD_STEPS)
    assert 2.5 < spread / half_step < 6.0, f"energy spread {spread:.3g} eV at dt, {half_step:.3g} eV at dt/2: not dt²"
    return spread


def nequip_compile(checkpoint: Path, exported: Path, *options: str) -> None:
    """Run the venv's ``nequip-compile`` (the console script of nequip-models); fail with its stderr."""
    command = [str(Path(sys.executable).with_name("nequip-compile")), str(checkpoint), str(exported), *options]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]


def with_far_copy(atoms) -> list:
    """``atoms``, and ``atoms`` with a copy of itself 20 Å away: another atom count, so an exported
    program fixed to the size of the example it was traced with fails."""
    shifted = atoms.copy()
    shifted.positions += 20.0
    return [atoms, atoms + shifted]


def check_export(checkpoint: Path, exported: Path, eager_calculator, atoms) -> int:
    """``nequip-compile --mode export`` gives a model whose energy and forces equal the eager model's.

    Checked on ``atoms`` and on two copies of it 20 Å apart (another atom count: the exported
    program must not be fixed to the size of the example it was traced with). Returns the
    largest atom count checked.
    """
    nequip_compile(checkpoint, exported, "--mode", "export")
    exported_calculator = NequIPCalculator.from_compiled_model(str(exported))
    systems = with_far_copy(atoms)
    for system in systems:
        expected = (eager_calculator.get_potential_energy(system), eager_calculator.get_forces(system))
        got = (exported_calculator.get_potential_energy(system), exported_calculator.get_forces(system))
        for name, want, have in zip(("energy", "forces"), expected, got):
            assert_close(f"exported {name} ({len(system)} atoms)", torch.as_tensor(have), torch.as_tensor(want), 1e-10)
    return max(len(system) for system in systems)


def check_pair_allegro_target(checkpoint: Path, exported: Path, model, atoms) -> int:
    """``nequip-compile --target pair_allegro``: the registered target's inputs, outputs and data settings.

    The file must record the target and its fields, take exactly Allegro's inputs (positions,
    edge index, atom types, in the target's order) and return the LAMMPS outputs equal to the
    eager model's, on ``atoms`` and on two copies 20 Å apart. Returns the largest atom count checked.
    """
    from allegro._compile import PAIR_ALLEGRO_TARGET

    nequip_compile(checkpoint, exported, "--mode", "export", "--target", "pair_allegro")
    metadata = read_exported_metadata(str(exported))
    assert metadata["target"] == "pair_allegro", metadata["target"]
    assert metadata["input_fields"] == PAIR_ALLEGRO_TARGET["input"], metadata["input_fields"]
    assert metadata["output_fields"] == PAIR_ALLEGRO_TARGET["output"], metadata["output_fields"]
    program = torch.export.load(str(exported)).module()
    systems = with_far_copy(atoms)
    for system in systems:
        data = frame(system)
        expected = model(dict(data))
        inputs = PAIR_ALLEGRO_TARGET["data_settings"](dict(data))
        outputs = program(*(inputs[field] for field in PAIR_ALLEGRO_TARGET["input"]))
        got = dict(zip(PAIR_ALLEGRO_TARGET["output"], outputs))
        for field in (AtomicDataDict.PER_ATOM_ENERGY_KEY, AtomicDataDict.FORCE_KEY):
            assert_close(
                f"pair_allegro {field} ({len(system)} atoms)", got[field].detach(), expected[field].detach(), 1e-10
            )
    return max(len(system) for system in systems)


def main(path: str) -> None:
    assert compile_target("pair_allegro")["input"][0] == AtomicDataDict.POSITIONS_KEY
    atoms = ase.io.read(path, index=0)
    for dtype in ("float32", "float64"):
        model = AllegroModel(model_dtype=dtype, **HYPERPARAMETERS)
        out = model(frame(atoms))
        e, f = out[AtomicDataDict.TOTAL_ENERGY_KEY].detach(), out[AtomicDataDict.FORCE_KEY].detach()
        assert e.shape == (1, 1) and f.shape == (len(atoms), 3), (e.shape, f.shape)
        assert torch.isfinite(e).all() and torch.isfinite(f).all() and f.abs().max() > 0
        # forces = -dE/dr: central difference on one coordinate (every pair is within r_max)
        h = 1e-4 if dtype == "float64" else 1e-2
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[0, 0] += h
        minus.positions[0, 0] -= h
        fd = -(energy(model, plus) - energy(model, minus)) / (2 * h)
        tolerance = 1e-6 if dtype == "float64" else 5e-2
        assert abs(fd - float(f[0, 0])) <= tolerance * max(1.0, abs(fd)), (dtype, fd, float(f[0, 0]))
        print(dtype, sum(p.numel() for p in model.parameters()), next(model.parameters()).dtype)
    small = AllegroModel(model_dtype="float64", **SMALL_HYPERPARAMETERS)
    check_all(small, TYPE_NAMES, R_MAX, HYPERPARAMETERS["per_type_energy_shifts"])
    check_strict_locality(small)
    print("testkit float64", sum(p.numel() for p in small.parameters()))
    md_model = AllegroModel(model_dtype="float64", **MD_HYPERPARAMETERS)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "allegro.ckpt"
        check_checkpoint_round_trip(md_model, checkpoint, atoms)
        spread = check_nve(checkpoint, atoms)
        print(
            f"nve float64 steps={MD_STEPS} dt={MD_TIMESTEP_FS}fs energy_spread={spread:.3g}eV bound={MD_ENERGY_BOUND}eV"
        )
        eager_calculator = NequIPCalculator.from_checkpoint(str(checkpoint))
        num_atoms = check_export(checkpoint, Path(tmp) / "allegro.pt2", eager_calculator, atoms)
        print(f"export float64 equals eager up to {num_atoms} atoms")
        num_atoms = check_pair_allegro_target(checkpoint, Path(tmp) / "allegro_pair.pt2", md_model, atoms)
        print(f"pair_allegro float64 equals eager up to {num_atoms} atoms")


if __name__ == "__main__":
    main(sys.argv[1])
