"""Predictions of test or validation data written to extxyz files.

Each frame holds the model's predictions as an ASE calculator's results (energy, forces,
stress, ...), ``extra_fields`` of the predictions in ``info``/``arrays``, and the reference
values of ``output_fields_from_original_dataset`` under the prefix ``original_dataset_``
(``total_energy`` as ``original_dataset_energy``, ASE's name), so that one file holds
both sides of a parity plot.
"""

import os
from typing import Any, List, Optional

import ase.io
import lightning
from lightning.pytorch.callbacks import Callback

from nequip.data import AtomicDataDict, get_field_type, keys, to_ase

from .predictions import TestPredictionCallback

#: Prefix of the reference fields in the written frames.
ORIGINAL_PREFIX = "original_dataset_"


def original_field_name(field: str) -> str:
    """Name of the reference value of ``field`` in a written frame (``original_dataset_energy`` for ``total_energy``)."""
    return ORIGINAL_PREFIX + ("energy" if field == keys.TOTAL_ENERGY_KEY else field)


class XYZFileWriter(Callback):
    """Writes predictions and reference fields of batches to extxyz files (see the module docstring).

    Args:
        out_file: path prefix without extension.
        output_fields_from_original_dataset: reference fields written beside the predictions.
        extra_fields: further predicted fields to write.
        chemical_symbols: symbol of each atom type (needed when the data have no atomic numbers).

    Raises:
        ValueError: for an ``out_file`` ending in ``.xyz``/``.extxyz``, or unknown fields.
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
        for field in self.original_fields + list(extra_fields or []):
            try:
                get_field_type(field)
            except KeyError as err:
                raise ValueError(f"{type(self).__name__}: {err.args[0]}") from err
        self.extra_fields = list(extra_fields or [])
        self.chemical_symbols = None if chemical_symbols is None else list(chemical_symbols)

    def path(self, dataloader_idx: int, epoch: Optional[int] = None) -> str:
        """The file of data set ``dataloader_idx`` (of ``epoch``, for per-epoch files)."""
        suffix = "" if epoch is None else f"_epoch{epoch}"
        return f"{self.out_file}_dataset{dataloader_idx}{suffix}.xyz"

    def write(self, path: str, outputs: AtomicDataDict.Type, batch: AtomicDataDict.Type) -> None:
        """Append the frames of a batch's predictions ``outputs`` (and references from ``batch``) to ``path``."""
        frames = to_ase(dict(outputs), chemical_symbols=self.chemical_symbols, extra_fields=self.extra_fields)
        batch = AtomicDataDict.with_batch_(dict(batch))
        for index, atoms in enumerate(frames):
            reference = AtomicDataDict.frame_from_batched(batch, index)
            for field in self.original_fields:
                value = reference[field].detach().cpu().numpy()
                if get_field_type(field) == "node":
                    atoms.arrays[original_field_name(field)] = value
                else:
                    atoms.info[original_field_name(field)] = value.reshape(value.shape[1:])
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        ase.io.write(path, frames, format="extxyz", append=True)


class TestTimeXYZFileWriter(XYZFileWriter, TestPredictionCallback):
    """After each test batch, append its frames to ``{out_file}_dataset{i}.xyz`` (see the module docstring).

    Files of an earlier test run with the same ``out_file`` are removed when testing starts.

    Config example::

        callbacks:
          - _target_: nequip.train.callbacks.TestTimeXYZFileWriter
            out_file: ${hydra:runtime.output_dir}/test
            output_fields_from_original_dataset: [total_energy, forces]
            chemical_symbols: ${chemical_symbols}

    Args: as :class:`XYZFileWriter`.
    """

    def on_test_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        if trainer.is_global_zero:
            directory = os.path.dirname(os.path.abspath(self.out_file))
            os.makedirs(directory, exist_ok=True)
            for name in os.listdir(directory):
                full = os.path.join(directory, name)
                if full.startswith(os.path.abspath(self.out_file) + "_dataset") and full.endswith(".xyz"):
                    os.remove(full)

    def add_batch(self, trainer: lightning.Trainer, outputs: Any, batch: Any, dataloader_idx: int) -> None:
        self.write(self.path(dataloader_idx), outputs, batch)


class ValTimeXYZFileWriter(XYZFileWriter):
    """Append the predictions of validation batches to ``{out_file}_dataset{i}[_epoch{e}].xyz``.

    Writes every ``every_n_epochs``-th epoch (counting from epoch 0), not during Lightning's
    sanity-check validation. With ``separate_file_per_epoch`` each epoch gets its own file;
    otherwise the epochs are appended to one file.

    Config example::

        callbacks:
          - _target_: nequip.train.callbacks.ValTimeXYZFileWriter
            out_file: ${hydra:runtime.output_dir}/val
            output_fields_from_original_dataset: [total_energy, forces]
            chemical_symbols: ${chemical_symbols}
            separate_file_per_epoch: true
            every_n_epochs: 5

    Args:
        separate_file_per_epoch: one file per epoch (default ``False``).
        every_n_epochs: write every this many epochs (default 1).
        **kwargs: arguments of :class:`XYZFileWriter`.

    Raises:
        ValueError: for ``every_n_epochs`` below 1, and as :class:`XYZFileWriter`.
    """

    def __init__(self, separate_file_per_epoch: bool = False, every_n_epochs: int = 1, **kwargs: Any) -> None:
        if isinstance(every_n_epochs, bool) or not isinstance(every_n_epochs, int) or every_n_epochs < 1:
            raise ValueError(f"ValTimeXYZFileWriter: every_n_epochs must be an integer >= 1, got {every_n_epochs!r}")
        super().__init__(**kwargs)
        self.separate_file_per_epoch = bool(separate_file_per_epoch)
        self.every_n_epochs = every_n_epochs

    def on_validation_batch_end(
        self,
        trainer: lightning.Trainer,
        pl_module: lightning.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        epoch = trainer.current_epoch
        if trainer.sanity_checking or epoch % self.every_n_epochs != 0:
            return
        self.write(self.path(dataloader_idx, epoch if self.separate_file_per_epoch else None), outputs, batch)
