"""End-to-end training benchmark: ours vs upstream NequIP 0.19 on the same config and split.

    uv run python tools/bench_train.py [--upstream /tmp/upstream/bin/nequip-train] [--epochs 2]

Runs tools/bench_train.yaml (an upstream-compatible config on ../shared/data/emt_cuau.xyz)
with each code for 1 and for 1+EPOCHS epochs (`run: [train, test]`); the time per epoch is
the difference of the wall times divided by EPOCHS (start-up, statistics and testing
cancel). Peak memory is the maximum resident set size of the longer run (/usr/bin/time -v),
test MAEs are read from the longer run's test table. Both codes use the same torch.
"""

import argparse
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRICS = ("test0_epoch/forces_mae", "test0_epoch/per_atom_energy_mae", "test0_epoch/total_energy_mae")


def run(command, out_dir, epochs):
    args = ["/usr/bin/time", "-v", *command, "-cp", str(ROOT / "tools"), "-cn", "bench_train",
            f"trainer.max_epochs={epochs}", f"hydra.run.dir={out_dir}", f"data_file={ROOT.parent / 'shared/data/emt_cuau.xyz'}"]
    start = time.perf_counter()
    result = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{result.stderr[-3000:]}")
    text = result.stdout + result.stderr
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", text).group(1)) / 1024
    metrics = {}
    for name in METRICS:
        match = re.search(re.escape(name) + r"\s+([0-9.eE+-]+)", text)
        metrics[name] = float(match.group(1)) if match else float("nan")
    return wall, rss, metrics


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", default="/tmp/upstream/bin/nequip-train")
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    ours = [str(ROOT / ".venv" / "bin" / "nequip-train")]
    codes = {"ours": ours, "upstream": [args.upstream]}
    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    rows = []
    for name, command in codes.items():
        short = run(command, tmp / f"{name}_1", 1)
        long = run(command, tmp / f"{name}_{1 + args.epochs}", 1 + args.epochs)
        per_epoch = (long[0] - short[0]) / args.epochs
        rows.append((name, per_epoch, long[1], long[2]))
        print(f"{name}: wall {short[0]:.1f} s (1 epoch), {long[0]:.1f} s ({1 + args.epochs} epochs)", flush=True)
    print(f"\n| code | s/epoch | peak RSS (MiB) | test F MAE (eV/Å) | test E/N MAE (eV) | test E MAE (eV) |")
    print("|---|---|---|---|---|---|")
    for name, per_epoch, rss, metrics in rows:
        print(f"| {name} | {per_epoch:.2f} | {rss:.0f} | " + " | ".join(f"{metrics[m]:.4f}" for m in METRICS) + " |")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
