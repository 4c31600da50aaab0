"""Benchmark NequIPGNNModel against upstream NequIP 0.19.1: training step and inference on CPU.

Usage (from the repository root)::

    uv run python tools/bench_models.py [--xyz data/emt_cuau.xyz] [--threads 1]
        [--repeats 5] [--dtypes float32 float64] [--upstream-python /tmp/upstream/bin/python]
        [--compile]

Both models get the hyperparameters of upstream's tutorial config (4 layers, l_max 1,
parity, 32 features, radial MLP 2 x 64, 8 Bessels, p = 6, r_max 5 Å; no ZBL) and the same
input tensors, prepared once with nequip-data: a training batch of 5 54-atom EMT CuAu frames
and one 972-atom cell (the first frame repeated 3 x 3 x 2).

1. Numbers: our model's weights are copied into upstream's (the parameter names match
   except for two module names), and energies and forces of both are compared (float64);
   a difference above ``PARITY_RTOL`` times the largest upstream value of that quantity
   stops the benchmark (``SystemExit``) before any timing.
2. Timing: each case (dtype x system x {train, infer}) starts one fresh subprocess per
   implementation (upstream in its own Python), which builds its model and takes
   ``--warmup`` steps; then timed steps alternate between the implementations, one step
   each per round for ``--repeats`` rounds, so that all see the same machine load. Reported:
   the median step time (process CPU time by default: with one thread it measures the work
   done, not the waits for a core shared with other processes; ``--clock wall`` for
   wall-clock time), and each subprocess's peak resident memory (``ru_maxrss``) and its
   increase over the RSS after imports and data loading.

   * train: model in training mode, forward (forces by autograd with ``create_graph``),
     loss = MSE(energy) + MSE(forces) against the EMT labels, backward;
   * infer: model in eval mode, energy and forces.

Prints a table with the ratios upstream time / our time (higher is better for us) and our
peak memory / upstream's. ``--compile`` also times our model with ``compile_mode="compile"``;
if it falls back to eager (e.g. its outputs differ from the eager model's on the first batch
beyond the compile check's tolerance), the benchmark stops instead of timing eager steps.

This file runs under both Pythons: only the standard library is imported at the top.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from benchlib import ARCHITECTURE, R_MAX, TYPE_NAMES, load_our_weights, peak_rss_mb

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SYSTEMS = ("batch5x54", "cell972")
# same weights in float64: ours and upstream's energies and forces may differ by rounding only
PARITY_RTOL = 1e-8


# ---------------------------------------------------------------------------------------
# data preparation (our environment)


def prepare(xyz: str, out_path: str) -> dict:
    """Frames as plain tensor dicts (field names shared with upstream) and the statistics."""
    import ase.io
    import torch
    from ase.calculators.emt import EMT

    from nequip.data import AtomicDataDict, from_ase, keys
    from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

    mapper, neighbors = ChemicalSpeciesToAtomTypeMapper(TYPE_NAMES), NeighborListTransform(R_MAX)
    fields = (
        keys.POSITIONS_KEY,
        keys.ATOM_TYPE_KEY,
        keys.EDGE_INDEX_KEY,
        keys.EDGE_CELL_SHIFT_KEY,
        keys.CELL_KEY,
        keys.PBC_KEY,
        keys.BATCH_KEY,
        keys.NUM_NODES_KEY,
        keys.TOTAL_ENERGY_KEY,
        keys.FORCE_KEY,
    )

    def frame(atoms):
        data = neighbors(mapper(from_ase(atoms)))
        return {k: v for k, v in data.items() if k in fields}

    frames = [frame(a) for a in ase.io.read(xyz, ":5")]
    big = ase.io.read(xyz, 0).repeat((3, 3, 2))
    big.calc = EMT()
    big.get_forces()
    systems = {"batch5x54": AtomicDataDict.batched_from_list(frames), "cell972": frame(big)}
    batch = systems["batch5x54"]
    types = batch[keys.ATOM_TYPE_KEY]
    force_rms = {t: float(batch[keys.FORCE_KEY][types == i].square().mean().sqrt()) for i, t in enumerate(TYPE_NAMES)}
    stats = {
        "avg_num_neighbors": batch[keys.EDGE_INDEX_KEY].shape[1] / types.shape[0],
        "per_type_energy_scales": force_rms,
        "per_type_energy_shifts": float((batch[keys.TOTAL_ENERGY_KEY].view(-1) / batch[keys.NUM_NODES_KEY]).mean()),
    }
    torch.save(systems, out_path)
    sizes = {
        name: (int(d[keys.POSITIONS_KEY].shape[0]), int(d[keys.EDGE_INDEX_KEY].shape[1])) for name, d in systems.items()
    }
    return {"stats": stats, "sizes": sizes}


# ---------------------------------------------------------------------------------------
# workers (run in a fresh process; `impl` says whose nequip is importable)


def _build(impl: str, model_dtype: str, stats: dict, compile_mode: str = "eager"):
    kwargs = dict(seed=456, model_dtype=model_dtype, type_names=TYPE_NAMES, **ARCHITECTURE, **stats)
    if impl == "upstream":
        from nequip.utils.global_state import set_global_state

        set_global_state()
        from nequip.model import NequIPGNNModel

        return NequIPGNNModel(**kwargs)
    from nequip.model import NequIPGNNModel

    return NequIPGNNModel(**kwargs, compile_mode=compile_mode)


def worker(spec: dict) -> dict:
    import torch

    torch.set_num_threads(spec["threads"])
    systems = torch.load(spec["data_path"], weights_only=True)
    if spec["mode"] == "check":
        model = _build(spec["impl"], "float64", spec["stats"])
        if spec["impl"] == "ours":
            torch.save({k: v.detach() for k, v in model.named_parameters()}, spec["weights_path"])
        else:
            load_our_weights(model, spec["weights_path"])
        model.eval()
        out = {}
        for name, data in systems.items():
            result = model(dict(data))
            out[name] = {k: result[k].detach() for k in ("total_energy", "forces")}
        torch.save(out, spec["out_path"])
        return {"num_parameters": sum(p.numel() for p in model.parameters())}

    data = systems[spec["system"]]
    del systems
    base_rss = peak_rss_mb()
    model = _build(spec["impl"], spec["dtype"], spec["stats"], spec.get("compile_mode", "eager"))
    energy_label, force_label = data["total_energy"], data["forces"]
    train = spec["mode"] == "train"
    model.train(train)

    def step():
        out = model(dict(data))
        if train:
            loss = (out["total_energy"] - energy_label).square().mean() + (out["forces"] - force_label).square().mean()
            loss.backward()
            model.zero_grad(set_to_none=True)
        else:
            out["total_energy"].detach(), out["forces"].detach()

    for _ in range(spec["warmup"]):
        step()
    reason = getattr(model, "compile_disabled_reason", None)
    if reason is not None:
        raise SystemExit(f"compile_mode='compile' fell back to eager (its timing would be eager's): {reason}")
    # serve timed steps one at a time, so that the driver can interleave implementations
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip() != "step":
            break
        start, cpu_start = time.perf_counter(), time.process_time()
        step()
        print(json.dumps({"wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu_start}), flush=True)
    return {"peak_rss_mb": peak_rss_mb(), "base_rss_mb": base_rss}


def _run_worker(python: str, spec: dict, cwd: str) -> dict:
    cmd = [python, os.path.abspath(__file__), "--worker", json.dumps(spec)]
    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]), PYTHONWARNINGS="ignore")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {spec.get('impl')} {spec.get('mode')} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class _Server:
    """A timing worker in its own process, serving one timed step per request."""

    def __init__(self, python: str, spec: dict, cwd: str):
        cmd = [python, os.path.abspath(__file__), "--worker", json.dumps(spec)]
        env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]), PYTHONWARNINGS="ignore")
        self.name = f"{spec['impl']} {spec.get('compile_mode', 'eager')}"
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env
        )
        self._read()  # ready after build and warm-up

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} failed:\n{self.proc.stderr.read()[-4000:]}")
        return json.loads(line)

    def step(self) -> dict:
        self.proc.stdin.write("step\n")
        self.proc.stdin.flush()
        return self._read()

    def finish(self) -> dict:
        self.proc.stdin.write("done\n")
        self.proc.stdin.flush()
        result = self._read()
        self.proc.wait()
        return result


# ---------------------------------------------------------------------------------------
# driver


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--xyz", default=os.path.join(REPO, "data", "emt_cuau.xyz"))
    parser.add_argument("--upstream-python", default="/tmp/upstream/bin/python")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"])
    parser.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    parser.add_argument("--modes", nargs="+", default=["train", "infer"], choices=["train", "infer"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="also time our model with compile_mode='compile'")
    parser.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="time steps by process CPU time (default; with one thread it is insensitive to other "
        "processes competing for the cores) or wall-clock time",
    )
    parser.add_argument("--skip-check", action="store_true")
    args = parser.parse_args(argv)

    workdir = tempfile.mkdtemp(prefix="bench_models_")
    data_path = os.path.join(workdir, "systems.pt")
    prepared = prepare(args.xyz, data_path)
    stats = prepared["stats"]
    print(
        f"systems (atoms, edges): {prepared['sizes']}; avg_num_neighbors {stats['avg_num_neighbors']:.2f}; "
        f"threads {args.threads}; median {args.clock} time of {args.repeats} steps after {args.warmup} warm-up steps"
    )
    common = dict(data_path=data_path, stats=stats, threads=args.threads, clock=args.clock)
    here = sys.executable

    if not args.skip_check:
        import torch

        weights = os.path.join(workdir, "weights.pt")
        outs = {}
        for impl, python in (("ours", here), ("upstream", args.upstream_python)):
            path = os.path.join(workdir, f"check_{impl}.pt")
            info = _run_worker(
                python, {**common, "impl": impl, "mode": "check", "weights_path": weights, "out_path": path}, workdir
            )
            outs[impl] = torch.load(path, weights_only=True)
            print(f"{impl}: {info['num_parameters']} parameters")
        for name in outs["ours"]:
            for field in ("total_energy", "forces"):
                a, b = outs["ours"][name][field], outs["upstream"][name][field]
                if a.shape != b.shape:
                    raise SystemExit(f"{name} {field}: ours has shape {tuple(a.shape)}, upstream {tuple(b.shape)}")
                diff = (a - b).abs()
                tolerance = PARITY_RTOL * float(b.abs().max())
                print(
                    f"same weights, float64, {name} {field}: max |ours - upstream| = {float(diff.max()):.3e} "
                    f"(max |value| {float(b.abs().max()):.3e})"
                )
                if not float(diff.max()) <= tolerance:
                    worst = int(diff.argmax())
                    raise SystemExit(
                        f"{name} {field} differ with the same weights (float64): "
                        f"ours {float(a.flatten()[worst]):.12g}, "
                        f"upstream {float(b.flatten()[worst]):.12g} (max |ours - upstream| {float(diff.max()):.3e} > "
                        f"tolerance {tolerance:.3e} = {PARITY_RTOL:g} x max |upstream {field}|)"
                    )

    variants = [("ours", here, "eager"), ("upstream", args.upstream_python, "eager")]
    if args.compile:
        variants.append(("ours", here, "compile"))
    for dtype in args.dtypes:
        for system in args.systems:
            for mode in args.modes:
                servers = {}
                for impl, python, compile_mode in variants:
                    spec = {
                        **common,
                        "impl": impl,
                        "mode": mode,
                        "dtype": dtype,
                        "system": system,
                        "warmup": args.warmup,
                        "compile_mode": compile_mode,
                    }
                    servers[(impl, compile_mode)] = _Server(python, spec, workdir)
                times = {key: [] for key in servers}
                for _ in range(args.repeats):  # alternate: every implementation sees the same load
                    for key, server in servers.items():
                        times[key].append(server.step()[f"{args.clock}_s"])
                result = {
                    key: {"median_s": statistics.median(times[key]), **server.finish()}
                    for key, server in servers.items()
                }
                ours, up = result[("ours", "eager")], result[("upstream", "eager")]
                line = (
                    f"{dtype:8s} {system:10s} {mode:6s} ours {ours['median_s'] * 1e3:8.1f} ms  upstream "
                    f"{up['median_s'] * 1e3:8.1f} ms  speedup {up['median_s'] / ours['median_s']:5.2f}x  "
                    f"peak RSS ours/upstream {ours['peak_rss_mb']:.0f}/{up['peak_rss_mb']:.0f} MB "
                    f"(+{ours['peak_rss_mb'] - ours['base_rss_mb']:.0f}/+{up['peak_rss_mb'] - up['base_rss_mb']:.0f} MB over base)"
                )
                if ("ours", "compile") in result:
                    comp = result[("ours", "compile")]
                    line += f"  compiled {comp['median_s'] * 1e3:.1f} ms ({up['median_s'] / comp['median_s']:.2f}x)"
                print(line, flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))), flush=True)
    else:
        main()
