"""The tutorial's figures for the documentation, from the output folder of a tutorial run.

    uv run nequip-train -cp configs -cn tutorial hydra.run.dir=outputs/tutorial
    uv run python tools/docs_figures.py outputs/tutorial

writes ``docs/_static/tutorial_parity.png`` (the parity plot that the run's ``ParityPlot``
callback drew for the test set) and ``docs/_static/tutorial_learning_curve.png`` (training
and validation metrics per epoch, from the run's CSV metrics).
"""

import argparse
import csv
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STATIC = Path(__file__).resolve().parents[1] / "docs" / "_static"
CURVES = [
    ("train_metric_epoch/weighted_sum", "val0_epoch/weighted_sum", "energy MAE + force MAE"),
    ("train_metric_epoch/forces_mae", "val0_epoch/forces_mae", "force MAE (eV/Å)"),
]


def _metrics_csv(run_dir: Path) -> Path:
    found = sorted(run_dir.rglob("metrics.csv"))
    if not found:
        raise SystemExit(f"no metrics.csv under {run_dir}: is it the output folder of a run with a CSVLogger?")
    return found[-1]


def _per_epoch(path: Path, column: str) -> tuple[list[int], list[float]]:
    epochs, values = [], []
    with path.open() as handle:
        for row in csv.DictReader(handle):
            if row.get(column) not in (None, ""):
                epochs.append(int(float(row["epoch"])))
                values.append(float(row[column]))
    if not values:
        raise SystemExit(f"{path} has no values of {column!r}")
    return epochs, values


def learning_curve(metrics: Path, out: Path) -> None:
    figure, axes = plt.subplots(1, len(CURVES), figsize=(9, 3.4), constrained_layout=True)
    for ax, (train, val, label) in zip(axes, CURVES):
        for column, name in ((train, "training"), (val, "validation")):
            epochs, values = _per_epoch(metrics, column)
            ax.plot(epochs, values, marker="o", markersize=3, label=name)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    figure.suptitle("Tutorial run: EMT Cu/Au, NequIP model")
    figure.savefig(out, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="output folder of a tutorial run (hydra.run.dir)")
    args = parser.parse_args()
    parity = args.run_dir / "parity_dataset0.png"
    if not parity.is_file():
        raise SystemExit(f"{parity} not found: the run must include `test` and the ParityPlot callback")
    STATIC.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(parity, STATIC / "tutorial_parity.png")
    learning_curve(_metrics_csv(args.run_dir), STATIC / "tutorial_learning_curve.png")
    print(f"wrote {STATIC / 'tutorial_parity.png'} and {STATIC / 'tutorial_learning_curve.png'}")


if __name__ == "__main__":
    main()
