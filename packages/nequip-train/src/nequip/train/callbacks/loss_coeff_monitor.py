"""``LossCoefficientMonitor``: log the loss coefficients as ``loss_coeff/NAME``."""

import lightning
from lightning.pytorch.callbacks import Callback

#: Allowed ``interval`` values of the callbacks that act every few batches or epochs.
INTERVALS = ("batch", "epoch")


def check_interval(owner: str, interval: str, frequency: int) -> None:
    """Raise ``ValueError`` unless ``interval`` is ``batch``/``epoch`` and ``frequency`` an integer >= 1."""
    if interval not in INTERVALS:
        raise ValueError(f"{owner}: interval must be one of {list(INTERVALS)}, got {interval!r}")
    if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1:
        raise ValueError(f"{owner}: frequency must be an integer >= 1, got {frequency!r}")


class LossCoefficientMonitor(Callback):
    """Log the (normalized) coefficient of each weighted loss term as ``loss_coeff/NAME``.

    Config example (every 5 epochs)::

        callbacks:
          - _target_: nequip.train.callbacks.LossCoefficientMonitor
            interval: epoch
            frequency: 5

    Args:
        interval: ``batch`` (log after every ``frequency``-th optimizer step) or ``epoch``
            (after every ``frequency``-th training epoch, counting from epoch 0).
        frequency: number of intervals between logs (>= 1).
    """

    def __init__(self, interval: str, frequency: int) -> None:
        check_interval("LossCoefficientMonitor", interval, frequency)
        self.interval = interval
        self.frequency = frequency

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.interval == "batch" and trainer.global_step % self.frequency == 0:
            self._log(pl_module)

    def on_train_epoch_end(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        if self.interval == "epoch" and trainer.current_epoch % self.frequency == 0:
            self._log(pl_module)

    @staticmethod
    def _log(pl_module: lightning.LightningModule) -> None:
        for name, coeff in pl_module.loss.coeffs.items():
            if coeff is not None:
                pl_module.log(f"loss_coeff/{name}", coeff)
