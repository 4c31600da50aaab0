"""Plot the molecular-dynamics benchmark: time per MD step and atom against the number of atoms.

Usage (from the repository root)::

    uv run python tools/bench_md.py --repeats 5 --json docs/_static/bench_md.json
    uv run python tools/plot_bench_md.py [--input docs/_static/bench_md.json] [--output docs/_static/bench_md.png]

The input is what ``tools/bench_md.py --json`` writes: a JSON list of rows, each an object
with at least ``atoms``, ``variant`` and ``us_per_step_atom`` (other keys are ignored).
Every variant becomes one line (ours solid, upstream's dashed), the number of atoms on a
logarithmic axis. A flat line means the time per step grows linearly with the system.
"""

import argparse
import json
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", type=Path, default=ROOT / "docs" / "_static" / "bench_md.json")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "_static" / "bench_md.png")
    parser.add_argument("--title", default="MD with the ASE calculator, tutorial-size model, float32, 1 CPU thread")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = json.loads(args.input.read_text())
    series = defaultdict(list)
    for row in rows:
        series[row["variant"]].append((int(row["atoms"]), float(row["us_per_step_atom"])))
    if not series:
        raise SystemExit(f"{args.input}: no rows")

    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    for variant in sorted(series, key=lambda v: (not v.startswith("ours"), v)):
        points = sorted(series[variant])
        ax.plot(
            [atoms for atoms, _ in points],
            [us for _, us in points],
            linestyle="-" if variant.startswith("ours") else "--",
            marker="o" if variant.startswith("ours") else "s",
            label=variant,
        )
    sizes = sorted({atoms for points in series.values() for atoms, _ in points})
    ax.set_xscale("log")
    ax.set_xticks(sizes)
    ax.set_xticklabels([f"{atoms:,}" for atoms in sizes])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.set_xlabel("atoms")
    ax.set_ylabel("µs per MD step and atom (lower is faster)")
    ax.set_title(args.title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.output, dpi=120)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
