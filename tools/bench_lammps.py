"""Benchmark pair_style nequip in LAMMPS against our ASE calculator and upstream NequIP 0.19.1's, and check MPI ranks.

Usage (from the repository root)::

    uv run python tools/bench_lammps.py [--sizes 108 1008 10192] [--threads 1 2] [--ranks 1 2]
        [--variants ours-eager ours-aoti upstream-eager upstream-aoti] [--repeats 3] [--atom-steps 2000]
        [--check-ranks 1 2 4] [--upstream-python /tmp/upstream/bin/python] [--json rows.json]

Model and structures are those of ``tools/bench_md.py`` (its ``prepare``): upstream NequIP's
tutorial hyperparameters (4 layers, l_max 1, 32 features, r_max 5 Å), float32, Cu/Au, one
checkpoint; random Cu/Au fcc alloys of 108, 1,008 and 10,192 atoms with 300 K velocities. For
each thread count the checkpoint is compiled with ``nequip-compile``'s ``export_model`` for
the ``lammps`` target (units metal) and for the ``ase`` target (AOTInductor), each for that
thread count; upstream gets the same weights in its own calculator (eager, and AOTInductor
with its ``ase`` target), run by ``bench_md.py``'s worker processes in upstream's Python.

Timed: blocks of velocity-Verlet MD steps (1 fs; ``max(1, atom_steps / atoms)`` steps per
block), the variants taking turns, ``--repeats`` blocks each, the median reported. LAMMPS
(``fix nve``) runs through ``nequip.lammps.driver.run_lammps``, a fresh LAMMPS per block whose
set-up, single point and first MD step (``warmup_steps=1``: the first step after the single
point is slower, its memory not yet in place) are not timed, on each number of ``--ranks``
(``mpirun``). With one thread, the clock is CPU time (rank 0's process CPU time for LAMMPS on
several ranks would miss the other ranks, so those use wall time); with several threads, wall
time for all.
Systems of at least ``bench_md.LARGE`` atoms run one ASE worker at a time (memory). Numbers of
ranks whose ranks x threads exceed the machine's cores are skipped (oversubscribed).
With several threads, LAMMPS on one rank also runs the package compiled for one thread
(``lammps-1rank-pkg1t``), to compare the two packages at each size.
Reported: steps per second, microseconds per step per atom, the ratio to our fastest ASE
path and to upstream's fastest, and for LAMMPS the atoms rank 0 holds per local atom (1 on one
rank, whose graph has the local atoms only; on several, local plus ghost atoms ``num_layers x
r_max`` deep: the cost of the ghost shell, an upper bound of the model's atoms, as ghosts left
without edges are not in the graph).

``--check-ranks`` evaluates one 1,372-atom cell (7³ cubic cells) on each given number of ranks
and prints the largest deviation of energy, forces, per-atom energies and virial from one rank.

Run it only on an otherwise idle machine: the variants compete for the cores.
"""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import bench_md
import benchlib
import numpy as np

ASE_VARIANTS = ("ours-eager", "ours-aoti", "upstream-eager", "upstream-aoti")
MASSES = {"Cu": 63.546, "Au": 196.96657}


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
        warmup_steps=1 if steps else 0,
        timestep=0.001,
        thermo_every=steps,
        timeout=7200,
    )


def check_ranks(plugin, model_path, ranks_list, threads):
    """One 1,372-atom cell on each number of ranks: the largest deviations from the first."""
    import ase.build

    atoms = ase.build.bulk("Cu", "fcc", a=bench_md.LATTICE, cubic=True).repeat((7, 7, 7))
    rng = np.random.default_rng(1)
    atoms.set_chemical_symbols(list(rng.choice(benchlib.TYPE_NAMES, size=len(atoms))))
    atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
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


class _LammpsBlocks:
    """LAMMPS on one structure as a timed variant: each block a fresh run of ``steps`` steps."""

    def __init__(self, plugin, model_path, atoms, ranks, threads):
        self.args = (plugin, model_path, atoms)
        self.ranks, self.threads = ranks, threads
        self.atoms_per_local = None
        self.energy = None  # eV, of the structure as given

    def seconds_per_step(self, steps: int, clock: str) -> float:
        result = lammps_run(*self.args, steps, self.ranks, self.threads)
        self.energy = result["energy"]
        self.atoms_per_local = 1.0
        if self.ranks > 1:
            self.atoms_per_local += result["rank0_ghost_atoms"] / result["rank0_local_atoms"]
        cpu = clock == "cpu" and self.ranks == 1
        return (result["cpu_seconds"] if cpu else result["seconds"]) / steps


class _AseBlocks:
    """A bench_md worker (our or upstream's calculator) as a timed variant."""

    def __init__(self, server, n):
        self.server, self.n = server, n
        self.atoms_per_local = None

    def seconds_per_step(self, steps: int, clock: str) -> float:
        return self.server.request(size=self.n, steps=steps)[f"{clock}_s"] / steps


def _time(variants: dict, steps: int, repeats: int, clock: str) -> dict:
    times = {name: [] for name in variants}
    for _ in range(repeats):
        for name, variant in variants.items():
            times[name].append(variant.seconds_per_step(steps, clock))
    return {name: statistics.median(t) for name, t in times.items()}


def _report(n: int, threads: int, clock: str, per_step: dict, variants: dict) -> list:
    ours = [s for name, s in per_step.items() if name.startswith("ours")]
    upstream = [s for name, s in per_step.items() if name.startswith("upstream")]
    rows = []
    for name, seconds in per_step.items():
        vs_ours = f"{min(ours) / seconds:8.2f}x" if ours else f"{'-':>9}"
        vs_upstream = f"{min(upstream) / seconds:8.2f}x" if upstream else f"{'-':>9}"
        nodes = variants[name].atoms_per_local
        extra = f"  atoms per local atom {nodes:.1f}" if nodes is not None else ""
        print(
            f"{n:6d} {threads:3d} {clock:5s} {name:18s} {1 / seconds:9.2f} {seconds / n * 1e6:13.1f} "
            f"{vs_ours} {vs_upstream}{extra}",
            flush=True,
        )
        row = dict(atoms=n, threads=threads, clock=clock, variant=name, steps_per_s=round(1 / seconds, 4))
        row.update(us_per_step_atom=round(seconds / n * 1e6, 1), atoms_per_local=nodes)
        rows.append(row)
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(bench_md.SIZES), choices=sorted(bench_md.SIZES))
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--variants", nargs="*", default=list(ASE_VARIANTS), choices=ASE_VARIANTS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--atom-steps", type=int, default=2000, help="MD steps per block = max(1, this / atoms)")
    parser.add_argument("--check-ranks", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--upstream-python", default="/tmp/upstream/bin/python")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    import ase.io

    import nequip.lammps.compile_target  # noqa: F401 - registers the lammps compile target
    from nequip.lammps.build import build_plugin, default_build_dir
    from nequip.model import ModelFromCheckpoint
    from nequip.model.export import export_model

    plugin = str(build_plugin(default_build_dir()))
    workdir = tempfile.mkdtemp(prefix="bench_lammps_")
    prepared = bench_md.prepare(workdir, args.sizes)
    model = ModelFromCheckpoint(prepared["checkpoint"])
    structures = {n: ase.io.read(path) for n, path in prepared["structures"].items()}
    packages = {}

    def lammps_package(threads: int) -> str:
        """The LAMMPS file compiled for ``threads`` threads (exported once)."""
        if threads not in packages:
            packages[threads] = os.path.join(workdir, f"model_{threads}.nequip.lammps.pt2")
            start = time.perf_counter()
            export_model(
                model, packages[threads], cpu_threads=threads, target="lammps", target_options={"units": "metal"}
            )
            seconds = time.perf_counter() - start
            print(f"# nequip-compile --target lammps, {threads} thread(s): {seconds:.0f} s", flush=True)
        return packages[threads]

    rows = []
    print(
        f"{'atoms':>6} {'thr':>3} clock {'variant':18s} {'steps/s':>9} {'us/step/atom':>13} {'vs ours':>9} {'vs up':>9}"
    )
    for threads in args.threads:
        import torch

        torch.set_num_threads(threads)
        clock = "cpu" if threads == 1 else "wall"
        lammps_path = lammps_package(threads)
        if args.check_ranks and threads == args.threads[0]:
            check_ranks(plugin, lammps_path, args.check_ranks, threads)
        # bench_md's workers keep upstream's AOTInductor package in their workdir: one per thread count
        thread_dir = os.path.join(workdir, f"threads_{threads}")
        os.makedirs(thread_dir, exist_ok=True)
        spec = dict(
            workdir=thread_dir,
            threads=threads,
            structures=prepared["structures"],
            stats=prepared["stats"],
            checkpoint=prepared["checkpoint"],
            weights=prepared["weights"],
            ours_aoti=os.path.join(thread_dir, "ours.pt2"),
        )
        if "ours-aoti" in args.variants:
            print(
                f"# nequip-compile --target ase: {bench_md.export_ours(spec['checkpoint'], spec['ours_aoti'], threads):.0f} s"
            )
        # more ranks x threads than cores: the processes take turns on the cores, which measures nothing
        cores = os.cpu_count()
        ranks_list = [ranks for ranks in args.ranks if ranks * threads <= cores]
        for ranks in sorted(set(args.ranks) - set(ranks_list)):
            print(f"# skipped: {ranks} ranks x {threads} threads is more than the {cores} cores", flush=True)
        for n in args.sizes:
            variants = {
                f"lammps-{ranks}rank": _LammpsBlocks(plugin, lammps_path, structures[n], ranks, threads)
                for ranks in ranks_list
            }
            if threads > 1 and 1 in ranks_list:  # the package for one thread in the same process
                variants["lammps-1rank-pkg1t"] = _LammpsBlocks(plugin, lammps_package(1), structures[n], 1, threads)
            servers, reference = {}, {}
            per_step = {}
            for name in args.variants:
                python = args.upstream_python if name.startswith("upstream") else sys.executable
                warmup = 1 if n >= bench_md.LARGE else 2
                server = bench_md._Server(python, {**spec, "variant": name, "sizes": [n], "warmup": warmup})
                bench_md._check_energies(name, server.read()["energies"], reference)
                variants[name] = _AseBlocks(server, n)
                if n >= bench_md.LARGE:  # one ASE worker alive at a time
                    per_step.update(_time({name: variants[name]}, 1, args.repeats, clock))
                    server.finish()
                else:
                    servers[name] = server
            steps = max(1, args.atom_steps // n)
            timed = {name: v for name, v in variants.items() if name not in per_step}
            per_step.update(_time(timed, steps, args.repeats, clock))
            for server in servers.values():
                server.finish()
            for name in per_step:  # LAMMPS's energy before its first step: the same weights as the ASE variants
                if name.startswith("lammps"):
                    bench_md._check_energies(name, {n: variants[name].energy}, reference)
            rows += _report(n, threads, clock, per_step, variants)
            if args.json:
                with open(args.json, "w") as file:
                    json.dump(rows, file, indent=1)


if __name__ == "__main__":
    main()
