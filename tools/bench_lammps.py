"""Benchmark pair_style nequip in LAMMPS against our ASE calculator, and check 1, 2 and 4 MPI ranks.

Usage (from the repository root)::

    uv run python tools/bench_lammps.py [--sizes 108 1008 10192] [--threads 1 2] [--ranks 1 2]
        [--steps 20] [--check-ranks 1 2 4] [--skip-ase] [--json rows.json]

Model: the benchmark architecture of ``tools/benchlib.py`` (upstream NequIP's tutorial
hyperparameters: 4 layers, l_max 1, 32 features, r_max 5 Å), float32, Cu/Au, built once with a
fixed seed; exported for LAMMPS (``export_lammps_model``, units metal) and for ASE
(``nequip-compile``'s ``export_model``, AOTInductor), each for the thread count of the run.

Structures: random Cu/Au fcc alloys (a = 3.8 Å; cubic 4-atom cells repeated, so 108, 1,008 and
10,192 atoms are 3³, about 6.3³ and about 13.7³ cells: the nearest repeat is used), rattled by
0.05 Å, 300 K.

Timed: velocity-Verlet MD steps (1 fs) after one warm-up step: in LAMMPS (``fix nve``, through
``nequip.lammps.driver.run_lammps``; wall time of the run, MPI ranks x threads as given) and
through ``NequIPCalculator`` with ASE's ``VelocityVerlet`` (eager model and AOTInductor package,
process CPU time; LAMMPS on one rank with one thread also by rank 0's CPU time, otherwise wall
time). Reported: steps per second, microseconds per step per atom, and for LAMMPS the model's
atoms per local atom on rank 0 (1 on one rank; on several, local plus ghost atoms
``num_layers x r_max`` deep: the cost of the ghost shell).
Upstream NequIP's ASE calculator on the same architecture is measured by ``tools/bench_md.py``.

``--check-ranks`` evaluates one 1,372-atom cell (7³ cubic cells) on each given number of ranks
and prints the largest deviation of energy, forces, per-atom energies and virial from one rank.

Run it only on an otherwise idle machine: several variants compete for the cores.
"""

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import benchlib
import numpy as np

MASSES = {"Cu": 63.546, "Au": 196.96657}


def structure(num_atoms: int, seed: int = 0):
    import ase.build

    repeat = max(1, round((num_atoms / 4) ** (1 / 3)))
    atoms = ase.build.bulk("Cu", "fcc", a=3.8, cubic=True).repeat((repeat,) * 3)
    rng = np.random.default_rng(seed)
    atoms.set_chemical_symbols(list(rng.choice(benchlib.TYPE_NAMES, size=len(atoms))))
    atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
    return atoms


def build_model(num_layers=None, num_features=None):
    from nequip.model import NequIPGNNModel

    architecture = dict(benchlib.ARCHITECTURE)
    if num_layers is not None:
        architecture["num_layers"] = num_layers
    if num_features is not None:
        architecture["num_features"] = num_features
    return NequIPGNNModel(
        seed=0,
        model_dtype="float32",
        type_names=benchlib.TYPE_NAMES,
        avg_num_neighbors=40.0,
        per_type_energy_scales=0.5,
        per_type_energy_shifts=0.0,
        **architecture,
    ).eval()


def lammps_run(plugin, model_path, atoms, steps, ranks, threads):
    from nequip.lammps.driver import run_lammps

    names = benchlib.TYPE_NAMES
    return run_lammps(
        plugin,
        model_path,
        names,
        atoms.cell.array,
        atoms.pbc,
        atoms.positions,
        [names.index(s) + 1 for s in atoms.get_chemical_symbols()],
        [MASSES[n] for n in names],
        ranks=ranks,
        threads=threads,
        steps=steps,
        timestep=0.001,
        thermo_every=steps,
        timeout=7200,
    )


def ase_steps_per_second(calc, atoms, steps):
    from ase import units
    from ase.md.velocitydistribution import thermalize_momenta
    from ase.md.verlet import VelocityVerlet

    atoms = atoms.copy()
    atoms.calc = calc
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dynamics = VelocityVerlet(atoms, timestep=units.fs)
    dynamics.run(1)
    start = time.process_time()
    dynamics.run(steps)
    return steps / (time.process_time() - start)


def check_ranks(plugin, model_path, ranks_list, threads):
    """One 1,372-atom cell on each number of ranks: the largest deviations from the first."""
    atoms = structure(1372, seed=1)
    results = {ranks: lammps_run(plugin, model_path, atoms, 0, ranks, threads) for ranks in ranks_list}
    first = results[ranks_list[0]]
    for ranks, result in results.items():
        deviations = {
            field: float(
                np.abs(np.subtract(result[field], first[field])).max() / np.abs(np.asarray(first[field])).max()
            )
            for field in ("energy", "forces", "atomic_energies", "virial")
        }
        print(f"{len(atoms)} atoms, {ranks} rank(s): relative deviation from {ranks_list[0]} rank(s): {deviations}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[108, 1008, 10192])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--check-ranks", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--skip-ase", action="store_true")
    parser.add_argument("--num-layers", type=int, default=None, help="override the benchmark architecture (smoke runs)")
    parser.add_argument("--num-features", type=int, default=None, help="override the benchmark architecture")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import torch

    from nequip.integrations.ase import NequIPCalculator
    from nequip.lammps.build import build_plugin, default_build_dir
    from nequip.lammps.export import export_lammps_model
    from nequip.model.export import export_model

    plugin = str(build_plugin(default_build_dir()))
    model = build_model(args.num_layers, args.num_features)
    workdir = Path(tempfile.mkdtemp(prefix="bench_lammps_"))
    rows = []

    for threads in args.threads:
        torch.set_num_threads(threads)
        lammps_path = workdir / f"model_{threads}.nequip.lammps.pt2"
        export_lammps_model(model, str(lammps_path), units="metal", cpu_threads=threads)
        if args.check_ranks and threads == args.threads[0]:
            check_ranks(plugin, str(lammps_path), args.check_ranks, threads)
        ase_path = workdir / f"model_{threads}.nequip.pt2"
        if not args.skip_ase:
            export_model(model, str(ase_path), mode="aotinductor", cpu_threads=threads)
        for size in args.sizes:
            atoms = structure(size)
            n = len(atoms)
            for ranks in args.ranks:
                result = lammps_run(plugin, str(lammps_path), atoms, args.steps, ranks, threads)
                # one rank, one thread: process CPU time, as for ASE; otherwise wall time
                seconds = result["cpu_seconds"] if ranks == 1 and threads == 1 else result["seconds"]
                # the model's atoms per local atom: one rank attaches ghosts to their originals
                nodes = 1.0 if ranks == 1 else 1.0 + result["rank0_ghost_atoms"] / result["rank0_local_atoms"]
                variant = f"lammps-{ranks}rank"
                rows.append(dict(atoms=n, variant=variant, threads=threads, steps_per_s=args.steps / seconds))
                rows[-1]["model_atoms_per_local"] = nodes
            if not args.skip_ase:
                calculators = {
                    "ase-eager": NequIPCalculator(model),
                    "ase-aoti": NequIPCalculator.from_compiled_model(str(ase_path)),
                }
                for name, calc in calculators.items():
                    rate = ase_steps_per_second(calc, atoms, args.steps)
                    rows.append(dict(atoms=n, variant=name, threads=threads, steps_per_s=rate))
            for row in rows:
                if row["atoms"] == n and row["threads"] == threads and "us_per_step_atom" not in row:
                    row["us_per_step_atom"] = 1e6 / (row["steps_per_s"] * n)
                    extra = ""
                    if "model_atoms_per_local" in row:
                        extra = f", model on {row['model_atoms_per_local']:.1f} atoms per local atom"
                    print(
                        f"{n:6d} atoms, {threads} thread(s), {row['variant']:14s}: {row['steps_per_s']:8.2f} steps/s, "
                        f"{row['us_per_step_atom']:7.2f} us/step/atom{extra}",
                        flush=True,
                    )
    if args.json:
        with open(args.json, "w") as file:
            json.dump(rows, file, indent=1)
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
