"""Benchmark molecular dynamics through ASE: our NequIPCalculator against upstream NequIP 0.19.1's, on CPU.

Usage (from the repository root)::

    uv run python tools/bench_md.py [--sizes 108 1008 10192] [--threads 1] [--repeats 3]
        [--variants ours-eager ours-compile ours-aoti upstream-eager upstream-aoti upstream-eager+retain
                    upstream-aoti+retain ours-eager+release ours-aoti+release ours-aoti+inductor-defaults]
        [--upstream-python /tmp/upstream/bin/python] [--json rows.json]
        [--startup-repeats 3] [--startup-only]

Model: upstream's tutorial hyperparameters (4 layers, l_max 1, parity, 32 features, radial
MLP 2 x 64, 8 Bessels, r_max 5 Å; ``tools/benchlib.py``'s ``ARCHITECTURE``), float32,
Cu/Au. Our model is built once, saved as a checkpoint, run eagerly, through ``torch.compile``
in the MD process (``from_checkpoint(compile_mode="compile")``, variant ours-compile) and exported
with ``nequip-compile``'s ``export_model(mode="aotinductor", cpu_threads=--threads)``; upstream's model is built with the same
hyperparameters and gets our weights (``benchlib.load_our_weights``), then runs in
upstream's own calculator, eagerly and as an AOTInductor package made by upstream's
``aot_export_model`` with its ``ase`` target (what upstream's ``nequip-compile --mode
aotinductor --target ase`` does). Our calculator keeps freed CPU memory in the process
(``nequip.model.cpu_memory``); the ``+retain`` upstream variants get the same glibc
settings through the environment (``MALLOC_MMAP_MAX_``, ``MALLOC_TRIM_THRESHOLD_``), so
that their share of the difference is visible, and the ``+release`` variants of ours turn
them off (``retain_freed_memory=False``) to measure the option both ways. The
``ours-aoti+inductor-defaults`` variant is our package compiled with inductor's own defaults
in place of ``nequip.model.export.CPU_INDUCTOR_OPTIONS``, to measure those options.

Structures: random Cu/Au fcc alloys (a = 3.8 Å) of 108, 1,008 and 10,192 atoms (cubic
4-atom cells repeated), rattled by 0.05 Å, velocities of 300 K, all fixed by seeds.

Each variant runs in its own process (upstream's in upstream's Python), builds its
calculator, computes the energy of every structure, which must agree with the first
variant's within ``ENERGY_RTOL`` (same weights: the differences are float32 rounding;
otherwise the benchmark stops with ``SystemExit``; ours-compile also stops if it fell back
to eager), and takes two warm-up MD steps; then timed blocks of
velocity-Verlet steps (dt = 1 fs, one force call per step) alternate between the
variants, ``--repeats`` times, so that all see the same machine load (the machine's speed
drifts by up to 2x over tens of minutes, so only ratios from interleaved blocks are
comparable). Systems of at least 5,000 atoms get one warm-up step, one step per block, and
their own processes, as many alive at once as the free memory allows (the rest wait and
are timed after them). Reported: steps per
second from the median block (process CPU time by default, which with one thread is
insensitive to other processes on a shared machine; ``--clock wall`` for wall time),
microseconds per step per atom (constant if time is linear in the number of atoms), and
ratios to upstream's eager and AOTInductor calculators and to the fastest upstream variant.
``--json PATH`` also writes the printed rows as a JSON list of objects with ``atoms``,
``variant``, ``steps_per_s``, ``us_per_step_atom`` (and ``peak_rss_mb`` for large systems),
the input of ``tools/plot_bench_md.py``.

Start-up (``--startup-repeats``, default 3; ``--startup-only`` skips the step timing): the
time from process start to the end of the first MD step, as a simulation script sees it.
Each repeat starts one fresh process per code, the codes alternating: the process imports
torch, ASE (``ase.io``, velocity Verlet) and the code's calculator, loads a checkpoint of
the same model with the code's calculator at its default settings (ours:
``NequIPCalculator.from_checkpoint(path)``; upstream: its ``_from_saved_model(path)`` with
the identity species map, reading a Lightning checkpoint of the same weights that
upstream's own training module writes, made from the upstream test fixture's training
settings), reads the smallest structure, computes its energy (compared as above) and takes
one velocity-Verlet step. Reported: the median wall time (from the driver starting the
process to the process reporting), the median process CPU time (user + system of the whole
process, which depends less on other load), and the phases inside the process.

This file runs under both Pythons: only the standard library is imported at the top.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import ARCHITECTURE, R_MAX, TYPE_NAMES, load_our_weights, peak_rss_mb

VARIANTS = (
    "ours-eager",
    "ours-compile",
    "ours-aoti",
    "upstream-eager",
    "upstream-aoti",
    "upstream-eager+retain",
    "upstream-aoti+retain",
    "ours-eager+release",
    "ours-aoti+release",
    "ours-aoti+inductor-defaults",
)
# what our calculator applies on the CPU (nequip.model.cpu_memory), given to upstream through the environment
RETAIN_ENV = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(2**62)}
# atoms -> cubic 4-atom fcc cells along x, y, z
SIZES = {108: (3, 3, 3), 1008: (6, 6, 7), 10192: (14, 14, 13)}
LATTICE = 3.8
LARGE = 5000  # systems at least this large: one step per block, processes alive at once as memory allows
# same weights in float32: every variant's energy within this fraction of the first variant's (at least 1 eV)
ENERGY_RTOL = 1e-5


# ---------------------------------------------------------------------------------------
# preparation (our environment)


def prepare(workdir: str, sizes) -> dict:
    """Structures (extxyz with velocities), our checkpoint, weights for upstream, and our AOTI package."""
    import ase.build
    import ase.io
    import numpy as np
    import torch
    from ase.calculators.emt import EMT
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    from nequip.model import NequIPGNNModel, save_model_checkpoint

    paths = {}
    for n in sizes:
        atoms = ase.build.bulk("Cu", "fcc", a=LATTICE, cubic=True).repeat(SIZES[n])
        rng = np.random.default_rng(n)
        atoms.set_chemical_symbols(list(rng.choice(TYPE_NAMES, size=len(atoms))))
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        thermalize_momenta(atoms, temperature_K=300, rng=rng)
        Stationary(atoms)
        paths[n] = os.path.join(workdir, f"cuau_{n}.extxyz")
        ase.io.write(paths[n], atoms)
        if n == min(sizes):
            atoms.calc = EMT()
            forces, energy = atoms.get_forces(), atoms.get_potential_energy()
            stats = {
                "per_type_energy_scales": float(np.sqrt(np.mean(forces**2))),
                "per_type_energy_shifts": float(energy / len(atoms)),
                "avg_num_neighbors": 42.0,  # fcc within 5 Å: 12 + 6 + 24
            }
    kwargs = dict(seed=456, model_dtype="float32", type_names=TYPE_NAMES, **ARCHITECTURE, **stats)
    model = NequIPGNNModel(**kwargs).eval()
    checkpoint = os.path.join(workdir, "model.ckpt")
    save_model_checkpoint(checkpoint, model)
    weights = os.path.join(workdir, "weights.pt")
    torch.save({k: v.detach() for k, v in model.named_parameters()}, weights)
    return {"structures": paths, "stats": stats, "checkpoint": checkpoint, "weights": weights}


def export_ours(checkpoint: str, path: str, threads: int, inductor_defaults: bool = False) -> float:
    """Our AOTInductor package; ``inductor_defaults``: with inductor's defaults in place of our CPU options."""
    import torch._inductor.config

    from nequip.model import ModelFromCheckpoint
    from nequip.model.export import CPU_INDUCTOR_OPTIONS, export_model

    configs = {key: getattr(torch._inductor.config, key) for key in CPU_INDUCTOR_OPTIONS} if inductor_defaults else None
    start = time.perf_counter()
    export_model(
        ModelFromCheckpoint(checkpoint), path, mode="aotinductor", cpu_threads=threads, inductor_configs=configs
    )
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------
# workers


def _upstream_model(spec: dict):
    from nequip.utils.global_state import set_global_state

    set_global_state()
    from nequip.model import NequIPGNNModel

    model = NequIPGNNModel(seed=456, model_dtype="float32", type_names=TYPE_NAMES, **ARCHITECTURE, **spec["stats"])
    load_our_weights(model, spec["weights"])
    return model.eval()


def _upstream_aoti(model, atoms, path: str):
    """Upstream's AOTInductor export for its ASE target (as its nequip-compile does)."""
    import torch

    from nequip.data import AtomicDataDict, from_ase
    from nequip.integrations.utils import basic_transforms
    from nequip.scripts._compile_utils import COMPILE_TARGET_DICT
    from nequip.utils.aot import aot_export_model
    from nequip.utils.aoti_metadata import NEQUIP_AOTI_INPUTS_KEY, NEQUIP_AOTI_OUTPUTS_KEY, serialize_aoti_keys
    from nequip.utils.global_state import get_latest_global_state

    target = COMPILE_TARGET_DICT["ase"]
    data = from_ase(atoms)
    for transform in basic_transforms(model.metadata, R_MAX, TYPE_NAMES, {t: t for t in TYPE_NAMES}):
        data = transform(data)
    data = target["data_settings"](AtomicDataDict.to_(data, "cpu"))
    dim = torch.export.Dim
    batch_map = target["batch_map_settings"](
        {"graph": dim("num_frames", min=2), "node": dim("num_nodes", min=2), "edge": dim("num_edges", min=2)}
    )
    metadata = dict(model.metadata)
    metadata.update(get_latest_global_state(only_metadata_related=True))
    metadata = {k: str(int(v)) if isinstance(v, bool) else str(v) for k, v in metadata.items()}
    metadata[NEQUIP_AOTI_INPUTS_KEY] = serialize_aoti_keys(target["input"])
    metadata[NEQUIP_AOTI_OUTPUTS_KEY] = serialize_aoti_keys(target["output"])
    aot_export_model(
        model=model,
        device="cpu",
        input_fields=target["input"],
        output_fields=target["output"],
        data=data,
        batch_map=batch_map,
        output_path=path,
        inductor_configs={"aot_inductor.metadata": metadata},
    )


UPSTREAM_FIXTURE = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..",
    "packages/nequip-models/tests/data/upstream_0_19_1_nequip_gnn.ckpt",
)


def upstream_checkpoint(spec: dict) -> dict:
    """Upstream's Lightning checkpoint of the benchmark model with our weights (run in upstream's Python).

    The hyperparameters (loss, optimizer, metrics, versions) are those of the upstream test
    fixture, with the benchmark model in place of its model; the module is upstream's
    ``NequIPLightningModule`` (no EMA), so the checkpoint's weights are the model's."""
    import copy

    import torch

    from nequip.train import NequIPLightningModule
    from nequip.utils.global_state import set_global_state

    set_global_state()
    fixture = torch.load(UPSTREAM_FIXTURE, map_location="cpu", weights_only=False)
    model_config = {
        "_target_": "nequip.model.NequIPGNNModel",
        "seed": 456,
        "model_dtype": "float32",
        "type_names": TYPE_NAMES,
        **ARCHITECTURE,
        **spec["stats"],
    }
    hyper_parameters = copy.deepcopy(fixture["hyper_parameters"])
    hyper_parameters.pop("ema_decay", None)
    hyper_parameters["model"] = model_config
    fixture_module = hyper_parameters["info_dict"]["training_module"]
    hyper_parameters["info_dict"]["training_module"] = {
        "_target_": "nequip.train.NequIPLightningModule",
        **{key: fixture_module[key] for key in ("loss", "optimizer", "val_metrics")},
        "model": model_config,
    }
    module = NequIPLightningModule(**hyper_parameters)
    load_our_weights(module.model["sole_model"], spec["weights"])
    checkpoint = {
        "epoch": 0,
        "global_step": 0,
        "pytorch-lightning_version": fixture["pytorch-lightning_version"],
        "state_dict": module.state_dict(),
        "hparams_name": fixture["hparams_name"],
        "hyper_parameters": hyper_parameters,
    }
    torch.save(checkpoint, spec["upstream_checkpoint"])
    return {}


def startup_worker(spec: dict) -> dict:
    """Start-up as a simulation script sees it: imports, loading the calculator, one MD step (see the docstring)."""
    marks = [time.perf_counter()]
    import torch

    marks.append(time.perf_counter())
    import ase.io
    from ase import units
    from ase.md.verlet import VelocityVerlet

    marks.append(time.perf_counter())
    from nequip.integrations.ase import NequIPCalculator

    marks.append(time.perf_counter())
    torch.set_num_threads(spec["threads"])
    if spec["variant"] == "ours":
        calc = NequIPCalculator.from_checkpoint(spec["checkpoint"])
    else:
        calc = NequIPCalculator._from_saved_model(
            spec["upstream_checkpoint"], device="cpu", chemical_species_to_atom_type_map=True
        )
    marks.append(time.perf_counter())
    atoms = ase.io.read(spec["structures"][min(spec["structures"], key=int)])
    atoms.calc = calc
    energy = float(atoms.get_potential_energy())
    marks.append(time.perf_counter())
    VelocityVerlet(atoms, timestep=1.0 * units.fs).run(1)
    marks.append(time.perf_counter())
    phases = ("import torch", "import ase", "import calculator", "load checkpoint", "first energy", "first MD step")
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "energy": energy,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "phases": {name: end - start for name, start, end in zip(phases, marks, marks[1:])},
    }


def _startup(spec: dict, args) -> None:
    """Start-up of ours and upstream's, fresh processes, the codes alternating (see the docstring)."""
    python = {"ours": sys.executable, "upstream": args.upstream_python}
    if not os.path.exists(spec["upstream_checkpoint"]):
        _run_worker(python["upstream"], "--upstream-checkpoint", spec, args.threads)
    runs = {variant: [] for variant in python}
    reference: dict = {}
    for _ in range(args.startup_repeats):
        for variant in python:
            start = time.perf_counter()
            result = _run_worker(python[variant], "--startup-worker", {**spec, "variant": variant}, args.threads)
            result["wall_s"] = time.perf_counter() - start
            n = min(spec["structures"], key=int)
            _check_energies(f"{variant} (start-up)", {n: result["energy"]}, reference)
            runs[variant].append(result)
    print(
        f"\nstart-up, process start -> end of the first MD step ({min(spec['structures'], key=int)} atoms, "
        f"threads {args.threads}), median of {args.startup_repeats} fresh processes per code, alternated"
    )
    phases = list(runs["ours"][0]["phases"])
    print(f"{'code':9} {'wall s':>7} {'CPU s':>6}  " + "  ".join(f"{name:>17}" for name in phases) + "  (wall s)")
    for variant, results in runs.items():
        wall = statistics.median(r["wall_s"] for r in results)
        cpu = statistics.median(r["cpu_s"] for r in results)
        parts = "  ".join(f"{statistics.median(r['phases'][name] for r in results):17.2f}" for name in phases)
        print(f"{variant:9} {wall:7.2f} {cpu:6.2f}  {parts}", flush=True)
    for clock in ("wall_s", "cpu_s"):
        ratio = statistics.median(r[clock] for r in runs["ours"]) / statistics.median(
            r[clock] for r in runs["upstream"]
        )
        print(f"ours / upstream ({clock.removesuffix('_s')}): {ratio:.2f}", flush=True)


def _run_worker(python: str, mode: str, spec: dict, threads: int) -> dict:
    """Run this file as ``mode`` in a fresh ``python`` process; its last output line (JSON)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONWARNINGS="ignore")
    proc = subprocess.run(
        [python, os.path.abspath(__file__), mode, json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=spec["workdir"],
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} worker ({python}) failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _calculator(spec: dict, first_atoms):
    # "+release": our calculator with retain_freed_memory=False (glibc's default allocator behaviour)
    retain = not spec["variant"].endswith("+release")
    variant = spec["variant"].removesuffix("+retain").removesuffix("+release")
    if variant == "ours-eager":
        from nequip.integrations.ase import NequIPCalculator

        return NequIPCalculator.from_checkpoint(spec["checkpoint"], retain_freed_memory=retain)
    if variant == "ours-compile":  # torch.compile (inductor) in the MD process: compile_mode="compile"
        from nequip.integrations.ase import NequIPCalculator

        return NequIPCalculator.from_checkpoint(spec["checkpoint"], compile_mode="compile")
    if variant in ("ours-aoti", "ours-aoti+inductor-defaults"):
        from nequip.integrations.ase import NequIPCalculator

        path = spec["ours_aoti"] if variant == "ours-aoti" else spec["ours_aoti_inductor_defaults"]
        return NequIPCalculator.from_compiled_model(path, retain_freed_memory=retain)
    from nequip.integrations.ase import NequIPCalculator
    from nequip.integrations.utils import basic_transforms

    model = _upstream_model(spec)
    if variant == "upstream-eager":
        transforms = basic_transforms(model.metadata, R_MAX, TYPE_NAMES, {t: t for t in TYPE_NAMES})
        return NequIPCalculator(model, device="cpu", transforms=transforms)
    path = os.path.join(spec["workdir"], "upstream.nequip.pt2")
    if not os.path.exists(path):
        _upstream_aoti(model, first_atoms, path)
    return NequIPCalculator.from_compiled_model(path, device="cpu", chemical_species_to_atom_type_map=True)


def _available_mb() -> float:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 1024.0
    return float("inf")


def worker(spec: dict) -> dict:
    import ase.io
    import torch
    from ase import units
    from ase.md.verlet import VelocityVerlet

    torch.set_num_threads(spec["threads"])
    structures = {int(n): ase.io.read(path) for n, path in spec["structures"].items() if int(n) in spec["sizes"]}
    calc = _calculator(spec, ase.io.read(spec["structures"][min(spec["structures"], key=int)]))
    base_rss = peak_rss_mb()
    energies = {}
    runs = {}
    for n, atoms in structures.items():
        atoms.calc = calc
        energies[n] = float(atoms.get_potential_energy())
        runs[n] = VelocityVerlet(atoms, timestep=1.0 * units.fs)
        runs[n].run(spec["warmup"])
    reason = getattr(getattr(calc, "model", None), "compile_disabled_reason", None)  # ours-compile only
    if reason is not None:
        raise SystemExit(f"{spec['variant']} fell back to eager (its timing would be eager's): {reason}")
    print(
        json.dumps({"ready": True, "energies": energies, "base_rss_mb": base_rss, "peak_rss_mb": peak_rss_mb()}),
        flush=True,
    )
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("done"):
            break
        start, cpu_start = time.perf_counter(), time.process_time()
        runs[request["size"]].run(request["steps"])
        print(json.dumps({"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu_start}), flush=True)
    return {}


class _Server:
    def __init__(self, python: str, spec: dict):
        env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]), PYTHONWARNINGS="ignore")
        if spec["variant"].endswith("+retain"):
            env.update(RETAIN_ENV)
        self.name = spec["variant"]
        self.proc = subprocess.Popen(
            [python, os.path.abspath(__file__), "--worker", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=spec["workdir"],
        )

    def read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} failed:\n{self.proc.stderr.read()[-4000:]}")
        return json.loads(line)

    def request(self, **message) -> dict:
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()
        return self.read()

    def finish(self) -> None:
        self.proc.stdin.write(json.dumps({"done": True}) + "\n")
        self.proc.stdin.flush()
        self.proc.wait()


# ---------------------------------------------------------------------------------------
# driver


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=sorted(SIZES), choices=sorted(SIZES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--upstream-python", default="/tmp/upstream/bin/python")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--atom-steps", type=int, default=2000, help="MD steps per timed block = max(1, this / atoms)")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    parser.add_argument("--memory-margin-mb", type=float, default=3000, help="memory to leave free for others")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON (input of tools/plot_bench_md.py)")
    parser.add_argument(
        "--startup-repeats", type=int, default=3, help="fresh processes per code for start-up (0: none)"
    )
    parser.add_argument("--startup-only", action="store_true", help="measure start-up only, no MD step timing")
    args = parser.parse_args(argv)

    workdir = tempfile.mkdtemp(prefix="bench_md_")
    prepared = prepare(workdir, args.sizes)
    spec = dict(
        workdir=workdir,
        threads=args.threads,
        structures=prepared["structures"],
        stats=prepared["stats"],
        checkpoint=prepared["checkpoint"],
        weights=prepared["weights"],
        ours_aoti=os.path.join(workdir, "ours.pt2"),
        ours_aoti_inductor_defaults=os.path.join(workdir, "ours_inductor_defaults.pt2"),
        upstream_checkpoint=os.path.join(workdir, "upstream.ckpt"),
    )
    if args.startup_repeats > 0:
        _startup(spec, args)
    if args.startup_only:
        return
    if {"ours-aoti", "ours-aoti+release"} & set(args.variants):
        print(
            f"our AOTInductor export (incl. its check against eager): {export_ours(spec['checkpoint'], spec['ours_aoti'], args.threads):.0f} s",
            flush=True,
        )
    if "ours-aoti+inductor-defaults" in args.variants:
        seconds = export_ours(
            spec["checkpoint"], spec["ours_aoti_inductor_defaults"], args.threads, inductor_defaults=True
        )
        print(f"our AOTInductor export with inductor's default options: {seconds:.0f} s", flush=True)
    small = [n for n in args.sizes if n < LARGE]
    large = [n for n in args.sizes if n >= LARGE]
    print(f"\nthreads {args.threads}; median {args.clock} time of {args.repeats} blocks; velocity Verlet, dt 1 fs")
    print(
        f"{'atoms':>6} {'variant':21} {'steps/s':>9} {'us/step/atom':>13} {'vs up-eager':>12} {'vs up-aoti':>11} "
        f"{'vs up-best':>11}  peak RSS",
        flush=True,
    )
    grown, reference, rows = {}, {}, []
    # small systems: all variants alive at once, timed blocks interleaved
    servers = {}
    for variant in args.variants if small else ():
        python = args.upstream_python if variant.startswith("upstream") else sys.executable
        start = time.perf_counter()
        servers[variant] = _Server(python, {**spec, "variant": variant, "sizes": small, "warmup": 2})
        ready = servers[variant].read()
        _check_energies(variant, ready["energies"], reference)
        grown[variant] = (ready["peak_rss_mb"] - ready["base_rss_mb"]) / max(small)
        energies = ", ".join(f"{n}: {e:.4f}" for n, e in ready["energies"].items())
        print(
            f"# {variant}: ready in {time.perf_counter() - start:.0f} s; energies (eV) {energies}; "
            f"peak RSS {ready['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    for n in small:
        rows += _report(n, _interleaved(servers, n, max(1, args.atom_steps // n), args.repeats, args.clock), {})
        _write_json(args.json, rows)
    for server in servers.values():
        server.finish()
    # large systems: the variants interleaved as well, as many at once as memory allows (in the
    # order given); a variant starts when the free memory exceeds the margin, its estimate and half
    # the peaks of those running (they grow after their warm-up step); otherwise the running ones
    # are timed first and stopped
    for n in large:
        per_step, peaks, servers = {}, {}, {}
        for variant in args.variants:
            # MB: the small systems' growth per atom, but at least the largest peak so far (1 MB per atom before any)
            from_small = grown[variant] * n * 1.2 + 1000 if variant in grown else 0.0
            estimate = max(from_small, max(peaks.values(), default=n + 1000.0))
            growth = 0.5 * sum(peaks[running] for running in servers)
            if servers and estimate + growth > _available_mb() - args.memory_margin_mb:
                print(
                    f"# {n} atoms: {variant} waits for {', '.join(servers)} (needs about {estimate:.0f} MB)", flush=True
                )
                per_step.update(_time_and_finish(servers, n, args))
                servers = {}
            if estimate > _available_mb() - args.memory_margin_mb:
                print(
                    f"# {n} atoms, {variant}: skipped, needs about {estimate:.0f} MB, {_available_mb():.0f} MB available",
                    flush=True,
                )
                continue
            python = args.upstream_python if variant.startswith("upstream") else sys.executable
            servers[variant] = _Server(python, {**spec, "variant": variant, "sizes": [n], "warmup": 1})
            ready = servers[variant].read()
            _check_energies(variant, ready["energies"], reference)
            peaks[variant] = ready["peak_rss_mb"]
        per_step.update(_time_and_finish(servers, n, args))
        rows += _report(n, {variant: per_step[variant] for variant in args.variants if variant in per_step}, peaks)
        _write_json(args.json, rows)


def _check_energies(variant: str, energies: dict, reference: dict) -> None:
    """Stop when ``variant``'s energy of a structure differs from the first variant's beyond ``ENERGY_RTOL``."""
    for n, energy in energies.items():
        first, first_energy = reference.setdefault(int(n), (variant, energy))
        tolerance = ENERGY_RTOL * max(abs(first_energy), 1.0)
        if not abs(energy - first_energy) <= tolerance:
            raise SystemExit(
                f"{n} atoms: the energy of {variant}, {energy:.6f} eV, differs from {first}'s, {first_energy:.6f} eV, "
                f"by {abs(energy - first_energy):.2e} eV (same weights; tolerance {tolerance:.2e} eV "
                f"= {ENERGY_RTOL:g} x |E|)"
            )


def _write_json(path, rows: list) -> None:
    if path:
        with open(path, "w") as file:
            json.dump(rows, file, indent=1)


def _time_and_finish(servers: dict, n: int, args) -> dict:
    """One step per block, interleaved (see :func:`_interleaved`); then the workers end."""
    per_step = _interleaved(servers, n, 1, args.repeats, args.clock)
    for server in servers.values():
        server.finish()
    return per_step


def _interleaved(servers: dict, n: int, steps: int, repeats: int, clock: str) -> dict:
    """Seconds per step of each variant: the median of ``repeats`` blocks, the variants taking turns."""
    times = {variant: [] for variant in servers}
    for _ in range(repeats):
        for variant, server in servers.items():
            times[variant].append(server.request(size=n, steps=steps)[f"{clock}_s"] / steps)
    return {variant: statistics.median(t) for variant, t in times.items()}


def _report(n: int, per_step: dict, peaks: dict) -> list:
    """One row per variant; ratios to upstream's eager and AOTInductor calculators and to its fastest variant.

    Returns the rows for ``--json``."""
    upstream = [seconds for variant, seconds in per_step.items() if variant.startswith("upstream")]
    refs = [per_step.get("upstream-eager"), per_step.get("upstream-aoti"), min(upstream, default=None)]
    rows = []
    for variant, seconds in per_step.items():
        ratios = " ".join(f"{ref / seconds:10.2f}x" if ref else f"{'-':>11}" for ref in refs)
        peak = f"  {peaks[variant]:.0f} MB" if variant in peaks else ""
        print(f"{n:6d} {variant:21} {1 / seconds:9.2f} {seconds / n * 1e6:13.1f} {ratios}{peak}", flush=True)
        row = {
            "atoms": n,
            "variant": variant,
            "steps_per_s": round(1 / seconds, 4),
            "us_per_step_atom": round(seconds / n * 1e6, 1),
        }
        if variant in peaks:
            row["peak_rss_mb"] = round(peaks[variant])
        rows.append(row)
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))), flush=True)
    elif len(sys.argv) == 3 and sys.argv[1] == "--startup-worker":
        print(json.dumps(startup_worker(json.loads(sys.argv[2]))), flush=True)
    elif len(sys.argv) == 3 and sys.argv[1] == "--upstream-checkpoint":
        print(json.dumps(upstream_checkpoint(json.loads(sys.argv[2]))), flush=True)
    else:
        main()
