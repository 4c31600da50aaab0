"""``TrainingStatsMonitor``: log statistics of weights, gradients and Adam moments, to diagnose instabilities."""

from typing import Dict, Iterable, Tuple

import lightning
import torch
from lightning.pytorch.callbacks import Callback

#: Prefix of every logged name.
PREFIX = "training_stats"


def tensor_stats(group: str, name: str, tensor: torch.Tensor, stats: Iterable[str]) -> Dict[str, float]:
    """``{f"{group}.{stat}/{name}": value}`` for the ``stats`` among
    ``min, max, mean, std, absmin, absmax, rms``."""
    with torch.no_grad():
        values = tensor.detach().to(torch.float64)
        functions = {
            "min": lambda: values.min(),
            "max": lambda: values.max(),
            "mean": lambda: values.mean(),
            "std": lambda: values.std() if values.numel() > 1 else values.new_zeros(()),
            "absmin": lambda: values.abs().min(),
            "absmax": lambda: values.abs().max(),
            "rms": lambda: values.square().mean().sqrt(),
        }
        return {f"{group}.{stat}/{name}": float(functions[stat]()) for stat in stats}


class TrainingStatsMonitor(Callback):
    """Every ``log_freq`` optimizer steps, log per-parameter statistics under ``training_stats.``.

    * weights (before the step): ``weights.{min,max,mean,std,absmin,absmax}/NAME``;
    * gradients (after the backward pass): ``gradients.{absmax,rms}/NAME``;
    * Adam-like optimizer states (those with ``exp_avg`` and ``exp_avg_sq``):
      ``optimizer.exp_avg.{absmax,rms}/NAME`` and ``optimizer.sqrt_exp_avg_sq.{min,max,mean}/NAME``.

    ``NAME`` is the parameter's name in the training module (e.g. ``model.…weight``).

    Args:
        log_freq: log every this many optimizer steps, starting with the first (default 100).
        log_weights, log_gradients, log_optimizer_states: which groups to log (default all).

    Raises:
        ValueError: for a ``log_freq`` below 1.
    """

    def __init__(
        self,
        log_freq: int = 100,
        log_weights: bool = True,
        log_gradients: bool = True,
        log_optimizer_states: bool = True,
    ) -> None:
        if isinstance(log_freq, bool) or not isinstance(log_freq, int) or log_freq < 1:
            raise ValueError(f"TrainingStatsMonitor: log_freq must be an integer >= 1, got {log_freq!r}")
        self.log_freq = log_freq
        self.log_weights = log_weights
        self.log_gradients = log_gradients
        self.log_optimizer_states = log_optimizer_states

    def _due(self, trainer: lightning.Trainer) -> bool:
        return trainer.global_step % self.log_freq == 0

    @staticmethod
    def _trained(pl_module: lightning.LightningModule) -> Iterable[Tuple[str, torch.Tensor]]:
        return ((name, p) for name, p in pl_module.named_parameters() if p.requires_grad)

    def _log(self, pl_module: lightning.LightningModule, values: Dict[str, float]) -> None:
        if values:
            pl_module.log_dict({f"{PREFIX}.{key}": value for key, value in values.items()}, sync_dist=True)

    def on_after_backward(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        if not (self.log_gradients and self._due(trainer)):
            return
        values: Dict[str, float] = {}
        for name, param in self._trained(pl_module):
            if param.grad is not None:
                values.update(tensor_stats("gradients", name, param.grad, ("absmax", "rms")))
        self._log(pl_module, values)

    def on_before_optimizer_step(
        self, trainer: lightning.Trainer, pl_module: lightning.LightningModule, optimizer: torch.optim.Optimizer
    ) -> None:
        if not self._due(trainer):
            return
        values: Dict[str, float] = {}
        for name, param in self._trained(pl_module):
            if self.log_weights:
                values.update(tensor_stats("weights", name, param, ("min", "max", "mean", "std", "absmin", "absmax")))
            state = optimizer.state.get(param, {})
            if self.log_optimizer_states and "exp_avg" in state and "exp_avg_sq" in state:
                values.update(tensor_stats("optimizer.exp_avg", name, state["exp_avg"], ("absmax", "rms")))
                values.update(
                    tensor_stats("optimizer.sqrt_exp_avg_sq", name, state["exp_avg_sq"].sqrt(), ("min", "max", "mean"))
                )
        self._log(pl_module, values)
