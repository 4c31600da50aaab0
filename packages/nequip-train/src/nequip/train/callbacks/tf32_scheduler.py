"""``TF32Scheduler``: switch TensorFloat-32 matrix products on or off at given epochs."""

from typing import Any, Dict, Mapping

import lightning
import torch
from lightning.pytorch.callbacks import Callback


def set_tf32(enabled: bool) -> None:
    """Allow (or forbid) TF32 in CUDA matrix products and cuDNN convolutions (process-wide torch flags)."""
    torch.backends.cuda.matmul.allow_tf32 = bool(enabled)
    torch.backends.cudnn.allow_tf32 = bool(enabled)


class TF32Scheduler(Callback):
    """Set TF32 at the start of the given training epochs, and log it as ``tf32_enabled``.

    TF32 speeds up float32 matrix products on Ampere and later GPUs with a 10-bit mantissa;
    a common schedule trains fast with it and then refines without it. The schedule must
    start at epoch 0; the setting in force is kept in checkpoints and set again on restart.
    On CPU the flags change nothing.

    Config example::

        callbacks:
          - _target_: nequip.train.callbacks.TF32Scheduler
            schedule: {0: true, 100: false}

    Args:
        schedule: ``{epoch: enabled}``, with an entry for epoch 0.

    Raises:
        ValueError: for a schedule without epoch 0, negative epochs or non-boolean values.
    """

    def __init__(self, schedule: Mapping[int, bool]) -> None:
        if not isinstance(schedule, Mapping):
            raise ValueError(f"TF32Scheduler: schedule must be {{epoch: true/false}}, got {schedule!r}")
        self.schedule = {int(epoch): enabled for epoch, enabled in schedule.items()}
        if 0 not in self.schedule or min(self.schedule) < 0:
            raise ValueError(f"TF32Scheduler: schedule epochs must be >= 0 and include 0, got {sorted(self.schedule)}")
        bad = {epoch: value for epoch, value in self.schedule.items() if not isinstance(value, bool)}
        if bad:
            raise ValueError(f"TF32Scheduler: schedule values must be true or false, got {bad}")
        self.enabled = self.schedule[0]

    def on_train_epoch_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        if trainer.current_epoch in self.schedule:
            self.enabled = self.schedule[trainer.current_epoch]
            set_tf32(self.enabled)
        pl_module.log("tf32_enabled", float(self.enabled), on_step=False, on_epoch=True)

    def state_dict(self) -> Dict[str, Any]:
        return {"enabled": self.enabled}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.enabled = state_dict["enabled"]
        set_tf32(self.enabled)
