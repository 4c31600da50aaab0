"""End-to-end training benchmark: ours vs upstream NequIP 0.19 on the same config and split.

    uv run python tools/bench_train.py [--sizes small tutorial large] [--dtypes float32 float64]
        [--modes eager compile] [--frames 300] [--epochs 3] [--repeats 2]
        [--upstream /tmp/upstream/bin/nequip-train]

Runs tools/bench_train.yaml (an upstream-compatible config on the EMT Cu/Au frames of
data/emt_cuau.xyz, 54 atoms each, split 80/10/10 with a fixed seed, batches of 5) with each
code's ``nequip-train``, for every model size and dtype asked for and for each
``compile_mode`` in ``--modes``, alternating the codes run by run for ``--repeats`` rounds so
that both see the same machine load. Model sizes (``SIZES``): ``small`` (2 layers, l_max 1, 16
features), ``tutorial`` (4 layers, l_max 1, 32 features, upstream's tutorial) and ``large`` (4
layers, l_max 2, 64 features). ``--frames`` takes the first N frames of the data file (written to
a temporary file) to keep large models affordable.

Measured per run: the wall time of every epoch but the first (training steps plus that
epoch's validation; tools/bench_epoch_timer.py prints it inside the run), reported as the
median; the start-up time, from just before the process is started to the start of the first
training step (imports, config, data loading and statistics, model build; with
``compile_mode: compile`` upstream compiles before its first step and ours during it, so the
summary compares eager start-ups); the peak resident set size
(``/usr/bin/time -v``: the largest of the process and its children, such as the C++
compiler); and the test MAEs of the last run. Every run starts with an empty inductor cache
of its own (``TORCHINDUCTOR_CACHE_DIR``), so that in compile mode both codes compile their
graphs in every run, as a first training of a new model does, instead of one code reusing
the kernels of an earlier run and the other compiling.

The ratio for each size and dtype is against upstream's *faster* mode among ``--modes``
(eager or ``compile_mode: compile``), and ours is also reported in each mode. The benchmark
fails (``SystemExit``) when a test MAE is missing or when ours and upstream's, in the same
mode, differ by more than ``MAE_RTOL`` of upstream's: a speed comparison means nothing if the
two runs did not train to the same accuracy.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("test0_epoch/forces_mae", "test0_epoch/per_atom_energy_mae", "test0_epoch/total_energy_mae")
# same config, split and seed: ours and upstream's test MAEs within this fraction of upstream's
MAE_RTOL = 0.1
SIZES = {
    "small": dict(num_layers=2, l_max=1, num_features=16),
    "tutorial": dict(num_layers=4, l_max=1, num_features=32),
    "large": dict(num_layers=4, l_max=2, num_features=64),
}
MODES = ("eager", "compile")


def subset_file(frames: int, folder: Path) -> Path:
    """The first ``frames`` frames of data/emt_cuau.xyz, written to ``folder``."""
    import ase.io

    source = ROOT / "data" / "emt_cuau.xyz"
    atoms = ase.io.read(source, index=f":{frames}")
    if len(atoms) < frames:
        raise SystemExit(f"--frames {frames}: {source} has only {len(atoms)} frames")
    path = folder / f"emt_cuau_{frames}.xyz"
    ase.io.write(path, atoms)
    return path


def run(command, out_dir, epochs, data_file, size, dtype, mode):
    """One training run; returns (epoch times after the first, start-up s, peak RSS in MiB, test metrics)."""
    model = "training_module.model"
    args = [
        "/usr/bin/time",
        "-v",
        *command,
        "-cp",
        str(ROOT / "tools"),
        "-cn",
        "bench_train",
        f"trainer.max_epochs={epochs}",
        f"hydra.run.dir={out_dir}",
        f"data_file={data_file}",
        f"{model}.model_dtype={dtype}",
        f"{model}.compile_mode={mode}",
        *(f"{model}.{key}={value}" for key, value in SIZES[size].items()),
    ]
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "tools"), os.environ.get("PYTHONPATH")])),
        # an empty cache per run: no code reuses kernels that an earlier run compiled
        TORCHINDUCTOR_CACHE_DIR=str(Path(out_dir) / "inductor_cache"),
    )
    started = time.time()
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{result.stderr[-3000:]}")
    text = result.stdout + result.stderr
    epochs_s = [float(t) for _, t in re.findall(r"EPOCH_TIME (\d+) ([0-9.]+)", text)]
    if len(epochs_s) != epochs:
        raise RuntimeError(f"{command}: expected {epochs} epoch times, found {len(epochs_s)}")
    startup = float(re.search(r"FIRST_STEP_AT ([0-9.]+)", text).group(1)) - started
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    metrics = {}
    for name in METRICS:
        match = re.search(re.escape(name) + r"\s+([0-9.eE+-]+)", text)
        metrics[name] = float(match.group(1)) if match else float("nan")
    return epochs_s[1:], startup, rss, metrics


def check_accuracy(ours, upstream, label):
    for name in METRICS:
        if not abs(ours[name] - upstream[name]) <= MAE_RTOL * abs(upstream[name]):  # also fails on NaN
            raise SystemExit(
                f"{label}: {name} differs: ours {ours[name]:.4g}, upstream {upstream[name]:.4g} "
                f"(tolerance {MAE_RTOL:g} x upstream's)"
            )


def startup_ratio(results, modes) -> str:
    """Start-up, ours / upstream, in eager mode: with ``compile_mode: compile`` upstream compiles
    before the first step and ours in it, so only eager start-ups compare like with like."""
    if "eager" not in modes:
        return "n/a (no eager runs)"
    ours, upstream = results[("ours", "eager")]["startup"], results[("upstream", "eager")]["startup"]
    return f"{statistics.median(ours) / statistics.median(upstream):.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", default="/tmp/upstream/bin/nequip-train")
    parser.add_argument("--sizes", nargs="+", choices=list(SIZES), default=["tutorial"])
    parser.add_argument("--dtypes", nargs="+", choices=["float32", "float64"], default=["float32"])
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--frames", type=int, default=300, help="first N frames of data/emt_cuau.xyz")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per run (the first is not timed)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per code and mode, alternating")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error(f"--epochs must be at least 2 (the first epoch is not timed), got {args.epochs}")
    codes = {"ours": [str(ROOT / ".venv" / "bin" / "nequip-train")], "upstream": [args.upstream]}
    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    data_file = subset_file(args.frames, tmp)
    rows = []
    for size in args.sizes:
        for dtype in args.dtypes:
            results = {
                (code, mode): {"epochs": [], "startup": [], "rss": [], "metrics": None}
                for code in codes
                for mode in args.modes
            }
            for repeat in range(args.repeats):
                for mode in args.modes:
                    for code, command in codes.items():
                        out = tmp / f"{size}_{dtype}_{mode}_{code}_{repeat}"
                        epochs_s, startup, rss, metrics = run(command, out, args.epochs, data_file, size, dtype, mode)
                        r = results[(code, mode)]
                        r["epochs"] += epochs_s
                        r["startup"].append(startup)
                        r["rss"].append(rss)
                        r["metrics"] = metrics
                        print(
                            f"{size} {dtype} {mode} {code} run {repeat}: start-up {startup:.1f} s, epochs "
                            + " ".join(f"{t:.2f}" for t in epochs_s)
                            + f" s, peak RSS {rss:.0f} MiB",
                            flush=True,
                        )
                        shutil.rmtree(out, ignore_errors=True)
            for mode in args.modes:
                check_accuracy(
                    results[("ours", mode)]["metrics"], results[("upstream", mode)]["metrics"], f"{size} {dtype} {mode}"
                )
            rows.append((size, dtype, results))
    print(
        "\n| size | dtype | code | mode | s/epoch | start-up (s) | peak RSS (MiB) "
        "| test F MAE (eV/Å) | test E/N MAE (eV) | test E MAE (eV) |"
    )
    print("|---|---|---|---|---:|---:|---:|---:|---:|---:|")
    summary = []
    for size, dtype, results in rows:
        for (code, mode), r in results.items():
            print(
                f"| {size} | {dtype} | {code} | {mode} | {statistics.median(r['epochs']):.2f} "
                f"| {statistics.median(r['startup']):.1f} | {max(r['rss']):.0f} | "
                + " | ".join(f"{r['metrics'][m]:.4f}" for m in METRICS)
                + " |"
            )
        epoch = {key: statistics.median(r["epochs"]) for key, r in results.items()}
        fastest_upstream = min(args.modes, key=lambda mode: epoch[("upstream", mode)])
        fastest_ours = min(args.modes, key=lambda mode: epoch[("ours", mode)])
        upstream, ours = results[("upstream", fastest_upstream)], results[("ours", fastest_ours)]
        summary.append(
            f"| {size} | {dtype} | {fastest_ours} / {fastest_upstream} "
            f"| {epoch[('upstream', fastest_upstream)] / epoch[('ours', fastest_ours)]:.2f}x "
            f"| {max(ours['rss']) / max(upstream['rss']):.2f} "
            f"| {startup_ratio(results, args.modes)} |"
        )
    print(
        "\nOurs in its faster mode against upstream in its faster mode:\n\n"
        "| size | dtype | modes (ours / upstream) | speed-up per epoch | peak RSS, ours / upstream "
        "| start-up (eager), ours / upstream |"
    )
    print("|---|---|---|---:|---:|---:|")
    print("\n".join(summary))
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
