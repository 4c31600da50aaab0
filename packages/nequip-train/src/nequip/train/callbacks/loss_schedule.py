"""Loss-coefficient schedules: set coefficients at given epochs, or move them linearly over epochs."""

from typing import Any, Dict, Mapping, Optional

import lightning
from lightning.pytorch.callbacks import Callback


def _check_names(owner: str, names, loss) -> None:
    unknown = sorted(set(names) - set(loss.names))
    if unknown:
        raise ValueError(f"{owner}: names {unknown} are not loss terms; the loss has {loss.names}")


def _non_negative_int(owner: str, name: str, value: Any, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")
    return value


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
            _check_names("LossCoefficientScheduler", coeffs, pl_module.loss)

    def on_train_epoch_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        if trainer.current_epoch in self.schedule:
            pl_module.loss.set_coeffs(self.schedule[trainer.current_epoch])


class LinearLossCoefficientScheduler(Callback):
    """Move the loss coefficients linearly from their values at ``start_epoch`` to ``final_coeffs``.

    At the start of epoch ``start_epoch + k`` (``0 < k <= transition_epochs``) the coefficients
    of the named terms are ``c0 + (k / transition_epochs) (c1 - c0)``, with ``c0`` the
    (normalized) coefficients at the start of ``start_epoch`` and ``c1`` the normalized
    ``final_coeffs``. Several schedulers with distinct ``start_epoch`` and non-overlapping
    ranges compose into a multi-stage schedule. The captured ``c0`` is kept in checkpoints.

    Config example::

        callbacks:
          - _target_: nequip.train.callbacks.LinearLossCoefficientScheduler
            final_coeffs: {per_atom_energy_mse: 1.0, forces_mse: 1.0, stress_mse: 1.0}
            start_epoch: 100
            transition_epochs: 200

    Args:
        final_coeffs: ``{loss metric name: coefficient}`` reached at ``start_epoch + transition_epochs``.
        transition_epochs: number of epochs of the transition (>= 1).
        start_epoch: epoch whose coefficients the transition starts from (default 0).

    Raises:
        ValueError: for negative or all-zero coefficients, or epochs out of range.
    """

    def __init__(self, final_coeffs: Mapping[str, float], transition_epochs: int, start_epoch: int = 0) -> None:
        owner = "LinearLossCoefficientScheduler"
        if not isinstance(final_coeffs, Mapping) or not final_coeffs:
            raise ValueError(f"{owner}: final_coeffs must be a {{loss name: coefficient}} dict, got {final_coeffs!r}")
        values = list(final_coeffs.values())
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 for v in values) or sum(values) <= 0:
            raise ValueError(f"{owner}: final_coeffs must be non-negative and not all zero, got {dict(final_coeffs)}")
        total = float(sum(values))
        self.final_coeffs = {name: float(value) / total for name, value in final_coeffs.items()}
        self.transition_epochs = _non_negative_int(owner, "transition_epochs", transition_epochs, minimum=1)
        self.start_epoch = _non_negative_int(owner, "start_epoch", start_epoch)
        self.initial_coeffs: Optional[Dict[str, float]] = None

    @property
    def state_key(self) -> str:
        """One state per start epoch, so that several schedulers keep their own in checkpoints."""
        return f"{type(self).__qualname__}_{self.start_epoch}"

    def on_fit_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        _check_names("LinearLossCoefficientScheduler", self.final_coeffs, pl_module.loss)
        unweighted = [name for name in self.final_coeffs if pl_module.loss.coeffs[name] is None]
        if unweighted:
            raise ValueError(
                f"LinearLossCoefficientScheduler: loss terms {unweighted} have no coefficient to start from; "
                "give them a `coeff` in the loss"
            )

    def on_train_epoch_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        epoch = trainer.current_epoch
        if epoch == self.start_epoch and self.initial_coeffs is None:
            self.initial_coeffs = {name: pl_module.loss.coeffs[name] for name in self.final_coeffs}
        if self.initial_coeffs is None or not self.start_epoch < epoch <= self.start_epoch + self.transition_epochs:
            return
        fraction = (epoch - self.start_epoch) / self.transition_epochs
        pl_module.loss.set_coeffs(
            {name: start + fraction * (self.final_coeffs[name] - start) for name, start in self.initial_coeffs.items()}
        )

    def state_dict(self) -> Dict[str, Any]:
        return {"initial_coeffs": self.initial_coeffs}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.initial_coeffs = state_dict["initial_coeffs"]
