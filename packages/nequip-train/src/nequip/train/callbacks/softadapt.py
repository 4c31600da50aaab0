"""``SoftAdapt``: adapt the loss coefficients to how fast each loss term changes.

SoftAdapt (Heydari et al., arXiv:1912.12355; for interatomic potentials Bigi et al.,
Comput. Mater. Sci. 2024): with ``d_i`` the change of loss term ``i`` since the last update,
the new coefficient is proportional to ``c_i exp(beta d_i / |d|)`` (``c_i`` the current
coefficients, ``|d|`` the norm of all changes): terms that decrease slowly, or grow, gain
weight. Weighting by ``c_i`` keeps the user's ratios as the reference instead of drifting
towards equal coefficients. The coefficients of the updates within one cycle of
``frequency`` intervals are averaged and set at the end of the cycle.
"""

import math
from typing import Any, Dict, List, Mapping, Optional

import lightning
from lightning.pytorch.callbacks import Callback

from .loss_coeff_monitor import check_interval


def softadapt_coefficients(
    changes: Mapping[str, float], coeffs: Mapping[str, float], beta: float, eps: float = 1e-8
) -> Dict[str, float]:
    """Coefficients ``c_i exp(beta d_i / |d|)``, normalized to sum to one.

    Args:
        changes: ``{name: d_i}``, the change of each loss term since the last update.
        coeffs: ``{name: c_i}``, the current coefficients.
        beta: the SoftAdapt temperature (larger: stronger reweighting).
        eps: floor of ``|d|``.
    """
    scale = beta / max(math.sqrt(sum(d * d for d in changes.values())), eps)
    largest = max(scale * d for d in changes.values())  # subtracted for a stable softmax
    weights = {name: coeffs[name] * math.exp(scale * d - largest) for name, d in changes.items()}
    total = sum(weights.values())
    return {name: w / total for name, w in weights.items()}


class SoftAdapt(Callback):
    """Adapt the loss coefficients every ``frequency`` batches or epochs (see the module docstring).

    Every loss term must have a coefficient. Config example (update every 5 epochs)::

        callbacks:
          - _target_: nequip.train.callbacks.SoftAdapt
            beta: 1.1
            interval: epoch
            frequency: 5

    Args:
        beta: SoftAdapt temperature.
        interval: ``batch`` (changes of the per-batch loss terms) or ``epoch`` (of the epoch values).
        frequency: number of intervals per cycle; the coefficients of a cycle's updates are
            averaged and set at its end.
        eps: floor of the norm of the changes (default 1e-8).

    Raises:
        ValueError: for another ``interval`` or a ``frequency`` below 1; at fit start, for
            loss terms without a coefficient.
    """

    def __init__(self, beta: float, interval: str, frequency: int, eps: float = 1e-8) -> None:
        check_interval("SoftAdapt", interval, frequency)
        self.beta = float(beta)
        self.interval = interval
        self.frequency = frequency
        self.eps = float(eps)
        self.previous_losses: Optional[Dict[str, float]] = None
        self.cycle_coeffs: List[Dict[str, float]] = []
        self.updates = 0

    def on_fit_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        missing = [name for name, coeff in pl_module.loss.coeffs.items() if coeff is None]
        if missing:
            raise ValueError(f"SoftAdapt needs a coefficient for every loss term; {missing} have none")

    def _update(self, losses: Mapping[str, Optional[float]], pl_module: lightning.LightningModule) -> None:
        if any(value is None for value in losses.values()):
            return  # a term that was not evaluated (no data for it) gives no change to adapt to
        losses = dict(losses)
        if self.previous_losses is not None:
            changes = {name: losses[name] - self.previous_losses[name] for name in losses}
            self.cycle_coeffs.append(softadapt_coefficients(changes, pl_module.loss.coeffs, self.beta, self.eps))
            self.updates += 1
            if self.updates % self.frequency == 0:
                names = self.cycle_coeffs[0].keys()
                mean = {name: sum(c[name] for c in self.cycle_coeffs) / len(self.cycle_coeffs) for name in names}
                pl_module.loss.set_coeffs(mean)
                self.cycle_coeffs = []
        self.previous_losses = losses

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if self.interval == "batch" and trainer.global_step > 0:
            self._update(pl_module.loss.metrics_values_step, pl_module)

    def on_train_epoch_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        if self.interval == "epoch" and trainer.current_epoch > 0:
            self._update(pl_module.loss.metrics_values_epoch, pl_module)

    def state_dict(self) -> Dict[str, Any]:
        return {"previous_losses": self.previous_losses, "cycle_coeffs": self.cycle_coeffs, "updates": self.updates}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        self.previous_losses = state_dict["previous_losses"]
        self.cycle_coeffs = state_dict["cycle_coeffs"]
        self.updates = state_dict["updates"]
