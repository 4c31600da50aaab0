"""Base of the callbacks that read the model's test predictions batch by batch."""

from typing import Any

import lightning
from lightning.pytorch.callbacks import Callback

from nequip.data import AtomicDataDict


class TestPredictionCallback(Callback):
    """Calls :meth:`add_batch` with each test batch's predictions (the training module's ``test_step`` output)."""

    def add_batch(
        self, trainer: lightning.Trainer, outputs: AtomicDataDict.Type, batch: AtomicDataDict.Type, dataloader_idx: int
    ) -> None:
        """Handle the predictions ``outputs`` of the reference ``batch`` of data set ``dataloader_idx``."""
        raise NotImplementedError

    def on_test_batch_end(
        self,
        trainer: lightning.Trainer,
        pl_module: lightning.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:
        self.add_batch(trainer, outputs, batch, dataloader_idx)
