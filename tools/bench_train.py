"""End-to-end training benchmark: ours vs upstream NequIP 0.19 on the same config and split.

    uv run python tools/bench_train.py [--upstream /tmp/upstream/bin/nequip-train] [--epochs 5] [--repeats 2]

Runs tools/bench_train.yaml (an upstream-compatible config on data/emt_cuau.xyz:
300 54-atom frames, 240 for training in batches of 5, 30 validation, 30 test) with each
code's ``nequip-train`` for ``--epochs`` epochs (`run: [train, test]`), alternating the codes
for ``--repeats`` rounds so that both see the same machine load. The epoch time is measured
inside each run by tools/bench_epoch_timer.py (training steps plus that epoch's validation;
start-up, data statistics and testing excluded); reported is the median over all epochs
but the first of every run. Peak memory is the maximum resident set size of the run
(/usr/bin/time -v), test MAEs are read from the last run's test table. Both codes use the
same torch and the default (all-core) thread settings. After the table, the benchmark fails
(``SystemExit``) if a test MAE is missing or ours differs from upstream's by more than
``MAE_RTOL`` of upstream's: a speed comparison means nothing if the two runs did not train
to the same accuracy.
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("test0_epoch/forces_mae", "test0_epoch/per_atom_energy_mae", "test0_epoch/total_energy_mae")
# same config, split and seed: ours and upstream's test MAEs within this fraction of upstream's
MAE_RTOL = 0.1


def run(command, out_dir, epochs):
    """One training run; returns (epoch times after the first, peak RSS in MiB, test metrics)."""
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
        f"data_file={ROOT / 'data' / 'emt_cuau.xyz'}",
    ]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "tools"), os.environ.get("PYTHONPATH")]))
    )
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{result.stderr[-3000:]}")
    text = result.stdout + result.stderr
    epochs_s = [float(t) for _, t in re.findall(r"EPOCH_TIME (\d+) ([0-9.]+)", text)]
    if len(epochs_s) != epochs:
        raise RuntimeError(f"{command}: expected {epochs} epoch times, found {len(epochs_s)}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    metrics = {}
    for name in METRICS:
        match = re.search(re.escape(name) + r"\s+([0-9.eE+-]+)", text)
        metrics[name] = float(match.group(1)) if match else float("nan")
    return epochs_s[1:], rss, metrics


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upstream", default="/tmp/upstream/bin/nequip-train")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run (the first is not timed)")
    parser.add_argument("--repeats", type=int, default=2, help="runs per code, alternating")
    args = parser.parse_args()
    if args.epochs < 2:
        parser.error(f"--epochs must be at least 2 (the first epoch is not timed), got {args.epochs}")
    codes = {"ours": [str(ROOT / ".venv" / "bin" / "nequip-train")], "upstream": [args.upstream]}
    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    results = {name: {"epochs": [], "rss": [], "metrics": None} for name in codes}
    for repeat in range(args.repeats):
        for name, command in codes.items():
            epochs_s, rss, metrics = run(command, tmp / f"{name}_{repeat}", args.epochs)
            results[name]["epochs"] += epochs_s
            results[name]["rss"].append(rss)
            results[name]["metrics"] = metrics
            print(
                f"{name} run {repeat}: epochs 2-{args.epochs} " + " ".join(f"{t:.2f}" for t in epochs_s) + " s",
                flush=True,
            )
    print(
        f"\n| code | s/epoch (median of {len(results['ours']['epochs'])}) | peak RSS (MiB) | test F MAE (eV/Å) "
        "| test E/N MAE (eV) | test E MAE (eV) |"
    )
    print("|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {statistics.median(r['epochs']):.2f} | {max(r['rss']):.0f} | "
            + " | ".join(f"{r['metrics'][m]:.4f}" for m in METRICS)
            + " |"
        )
    speedup = statistics.median(results["upstream"]["epochs"]) / statistics.median(results["ours"]["epochs"])
    print(f"\nupstream s/epoch / ours s/epoch = {speedup:.2f}")
    shutil.rmtree(tmp, ignore_errors=True)
    for name in METRICS:
        ours, upstream = results["ours"]["metrics"][name], results["upstream"]["metrics"][name]
        if not abs(ours - upstream) <= MAE_RTOL * abs(upstream):  # also fails on NaN (metric not found)
            raise SystemExit(
                f"{name} differs: ours {ours:.4g}, upstream {upstream:.4g} (tolerance {MAE_RTOL:g} x upstream's)"
            )


if __name__ == "__main__":
    main()
