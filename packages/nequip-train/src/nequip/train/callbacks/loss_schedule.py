"""``LossCoefficientScheduler``: change the loss coefficients at given epochs."""

from typing import Dict, Mapping

import lightning
from lightning.pytorch.callbacks import Callback


class LossCoefficientScheduler(Callback):
    """Set the loss coefficients at the start of the given epochs.

    Config example (names are the loss's metric names, e.g. of ``EnergyForceLoss``)::

        callbacks:
          - _target_: nequip.train.callbacks.LossCoefficientScheduler
            schedule:
              100: {per_atom_energy_mse: 1.0, forces_mse: 1.0}
              200: {per_atom_energy_mse: 10.0, forces_mse: 1.0}

    The coefficients are normalized to sum to one, and are stored in checkpoints (a
    restart keeps them).

    Args:
        schedule: ``{epoch (0-based): {loss metric name: coefficient}}``.

    Raises:
        ValueError: for negative epochs or a schedule that is not a dict of dicts.
    """

    def __init__(self, schedule: Mapping[int, Mapping[str, float]]) -> None:
        if not isinstance(schedule, Mapping) or not all(isinstance(v, Mapping) for v in schedule.values()):
            raise ValueError(f"schedule must be {{epoch: {{loss name: coefficient}}}}, got {schedule!r}")
        self.schedule: Dict[int, Dict[str, float]] = {}
        for epoch, coeffs in schedule.items():
            if int(epoch) < 0:
                raise ValueError(f"schedule epochs must be >= 0, got {epoch}")
            self.schedule[int(epoch)] = dict(coeffs)

    def on_fit_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        for coeffs in self.schedule.values():
            unknown = sorted(set(coeffs) - set(pl_module.loss.names))
            if unknown:
                raise ValueError(
                    f"LossCoefficientScheduler: names {unknown} are not loss terms; the loss has {pl_module.loss.names}"
                )

    def on_train_epoch_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        if trainer.current_epoch in self.schedule:
            pl_module.loss.set_coeffs(self.schedule[trainer.current_epoch])
