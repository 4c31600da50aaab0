"""``ParityPlot``: predicted against reference energy and forces, as PNG files after a test run."""

import os
from typing import Any, Dict, List, Optional

import lightning
import torch

from nequip.data import keys

from .predictions import TestPredictionCallback


class ParityPlot(TestPredictionCallback):
    """After testing, write ``{prefix}_dataset{i}.png``: per-atom energy and force components, predicted vs reference.

    Config example::

        callbacks:
          - _target_: nequip.train.callbacks.ParityPlot
            out_dir: ${hydra:runtime.output_dir}

    Args:
        out_dir: folder of the PNG files (default: the trainer's ``default_root_dir``).
        prefix: file name prefix (default ``parity``).
    """

    def __init__(self, out_dir: Optional[str] = None, prefix: str = "parity") -> None:
        self.out_dir = out_dir
        self.prefix = prefix
        self._data: Dict[int, Dict[str, List[torch.Tensor]]] = {}
        #: paths of the files written by the last test run
        self.written: List[str] = []

    def on_test_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        self._data = {}
        self.written = []

    def add_batch(self, trainer: lightning.Trainer, outputs: Any, batch: Any, dataloader_idx: int) -> None:
        store = self._data.setdefault(dataloader_idx, {})
        num_atoms = batch[keys.NUM_NODES_KEY].to(torch.float64).reshape(-1, 1)
        pairs = [("energy", keys.TOTAL_ENERGY_KEY, num_atoms), ("forces", keys.FORCE_KEY, None)]
        for label, field, divide in pairs:
            if field not in outputs or field not in batch:
                continue
            pred = outputs[field].detach().to(torch.float64).cpu()
            ref = batch[field].detach().to(torch.float64).cpu()
            if divide is not None:
                pred, ref = pred / divide.cpu(), ref / divide.cpu()
            store.setdefault(f"{label}_pred", []).append(pred.reshape(-1))
            store.setdefault(f"{label}_ref", []).append(ref.reshape(-1))

    def on_test_end(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out_dir = self.out_dir or trainer.default_root_dir
        os.makedirs(out_dir, exist_ok=True)
        titles = {"energy": "energy per atom", "forces": "force components"}
        for index, store in sorted(self._data.items()):
            labels = [label for label in ("energy", "forces") if f"{label}_pred" in store]
            if not labels:
                continue
            fig, axes = plt.subplots(1, len(labels), figsize=(5 * len(labels), 4.5), squeeze=False)
            for ax, label in zip(axes[0], labels):
                pred = torch.cat(store[f"{label}_pred"]).numpy()
                ref = torch.cat(store[f"{label}_ref"]).numpy()
                low, high = float(min(pred.min(), ref.min())), float(max(pred.max(), ref.max()))
                ax.plot([low, high], [low, high], color="grey", lw=1)
                ax.scatter(ref, pred, s=4, alpha=0.6)
                mae = float(abs(pred - ref).mean())
                ax.set_title(f"{titles[label]} (MAE {mae:.4g})")
                ax.set_xlabel("reference")
                ax.set_ylabel("predicted")
            fig.tight_layout()
            path = os.path.join(out_dir, f"{self.prefix}_dataset{index}.png")
            fig.savefig(path, dpi=100)
            plt.close(fig)
            self.written.append(path)
