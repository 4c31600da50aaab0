"""``TestTimeXYZFileWriter``: write the test-set predictions to extxyz files."""

import os
from typing import Any, List, Optional

import ase.io
import lightning
from lightning.pytorch.callbacks import Callback

from nequip.data import to_ase


class TestTimeXYZFileWriter(Callback):
    """After each test batch, append its frames with the model's predictions to ``{out_file}_dataset{i}.xyz``.

    Energies, forces and stress in the file are the predictions (as an ASE calculator's
    results); ``output_fields_from_original_dataset`` copies reference fields of the data
    over the predictions, and ``extra_fields`` adds other predicted fields to ``info``/``arrays``.

    Config example::

        callbacks:
          - _target_: nequip.train.callbacks.TestTimeXYZFileWriter
            out_file: ${hydra:runtime.output_dir}/test
            chemical_symbols: ${chemical_symbols}

    Args:
        out_file: path prefix without extension.
        output_fields_from_original_dataset: fields taken from the data instead of the predictions.
        extra_fields: further fields to write.
        chemical_symbols: symbol of each atom type (needed when the data have no atomic numbers).

    Raises:
        ValueError: for an ``out_file`` ending in ``.xyz``/``.extxyz``.
    """

    def __init__(
        self,
        out_file: str,
        output_fields_from_original_dataset: Optional[List[str]] = None,
        extra_fields: Optional[List[str]] = None,
        chemical_symbols: Optional[List[str]] = None,
    ) -> None:
        if not isinstance(out_file, str) or out_file.endswith((".xyz", ".extxyz")):
            raise ValueError(f"out_file must be a path prefix without .xyz/.extxyz, got {out_file!r}")
        self.out_file = out_file
        self.original_fields = list(output_fields_from_original_dataset or [])
        self.extra_fields = list(extra_fields or [])
        self.chemical_symbols = None if chemical_symbols is None else list(chemical_symbols)

    def path(self, dataloader_idx: int) -> str:
        """The file of test data set ``dataloader_idx``."""
        return f"{self.out_file}_dataset{dataloader_idx}.xyz"

    def on_test_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        if trainer.is_global_zero:
            directory = os.path.dirname(os.path.abspath(self.out_file))
            os.makedirs(directory, exist_ok=True)
            for name in os.listdir(directory):
                full = os.path.join(directory, name)
                if full.startswith(os.path.abspath(self.out_file) + "_dataset") and full.endswith(".xyz"):
                    os.remove(full)

    def on_test_batch_end(
        self,
        trainer: lightning.Trainer,
        pl_module: lightning.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        output = dict(outputs)
        for field in self.original_fields:
            output[field] = batch[field]
        atoms = to_ase(output, chemical_symbols=self.chemical_symbols, extra_fields=self.extra_fields)
        ase.io.write(self.path(dataloader_idx), atoms, format="extxyz", append=True)
