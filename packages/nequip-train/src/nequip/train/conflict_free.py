"""Conflict-free inverse gradients (ConFIG): one update direction that no loss term opposes.

Liu et al., "ConFIG: Towards Conflict-free Training of Physics Informed Neural Networks"
(ICLR 2025, arXiv:2408.11104). For loss-term gradients ``g_i`` (flattened over all
parameters) and weights ``w_i > 0`` (the loss coefficients), the update direction ``u`` is
the unit vector along the minimum-norm least-squares solution ``x`` of::

    [g_1 / norm(g_1); ...; g_m / norm(g_m)] x = w / norm(w)

so that every unit gradient has a projection on ``x`` proportional to its weight (where the
system has an exact solution: at most as many terms as parameters, independent
gradients), and the update is ``(sum_i g_i . u) u``, whose length is the sum of the
projections of the raw gradients on ``u``. Every loss term decreases, to first order,
along ``-u``.
"""

from itertools import accumulate
from typing import Any, Optional

import torch

from nequip.data import AtomicDataDict

from .ema import EMALightningModule
from .lightning import LOSS_STEP_PREFIX, NequIPLightningModule

#: Allowed ``gradient_clip_algorithm`` values.
CLIP_ALGORITHMS = ("norm", "value")


def conflict_free_direction(
    gradients: torch.Tensor, weights: torch.Tensor, eps: float = 1e-8, lstsq: bool = True
) -> torch.Tensor:
    """The ConFIG update ``(sum_i g_i . u) u`` of the loss-term gradients (see the module docstring).

    The minimum-norm solution is ``x = A^T y`` with ``(A A^T) y = b``, an ``m x m`` system
    (``m`` loss terms), solved by least squares (``lstsq=True``) or the pseudo-inverse; both
    give the same ``x`` for independent gradients, the pseudo-inverse also for parallel ones.

    Args:
        gradients: ``(m, n)`` gradients of the ``m`` loss terms over ``n`` parameters.
        weights: ``(m,)`` positive weights of the terms.
        eps: floor of the norms divided by (zero gradients stay zero).
        lstsq: least squares (default) or the pseudo-inverse for the small system.

    Returns:
        ``(n,)`` update, in the dtype of ``gradients``.
    """
    if gradients.ndim != 2 or weights.shape != gradients.shape[:1]:
        raise ValueError(
            f"gradients must be (m, n) and weights (m,), got {tuple(gradients.shape)} and {tuple(weights.shape)}"
        )
    unit = torch.nn.functional.normalize(gradients, dim=1, eps=eps)
    target = torch.nn.functional.normalize(weights.to(unit), dim=0, eps=eps)
    gram = unit @ unit.T
    if lstsq:
        coefficients = torch.linalg.lstsq(gram, target.unsqueeze(-1)).solution.squeeze(-1)
    else:
        coefficients = torch.linalg.pinv(gram) @ target
    direction = torch.nn.functional.normalize(coefficients @ unit, dim=0, eps=eps)
    return (gradients @ direction).sum() * direction


class ConFIGLightningModule(NequIPLightningModule):
    """Training with ConFIG updates (see the module docstring) instead of the gradient of the weighted loss sum.

    The loss terms with a coefficient each get their own backward pass; the coefficients
    are the weights ``w`` of the linear system (their scale does not matter). With a single
    such term the update is the plain gradient. Optimization is manual: gradient clipping
    is set here, not on the ``Trainer``; LR schedulers are stepped by this module at their
    Lightning ``interval`` and ``frequency`` (``ReduceLROnPlateau`` with the ``monitor``
    value at the end of the training epoch, e.g. a validation metric).

    Args:
        gradient_clip_val: clip the combined gradient at this value (default ``None``: no clipping).
        gradient_clip_algorithm: ``"norm"`` (default) or ``"value"``.
        lsqr: solve the small system by least squares (default) or the pseudo-inverse.
        norm_eps: floor of the norms divided by (default 1e-8).
        **kwargs: arguments of :class:`~nequip.train.NequIPLightningModule`.

    Raises:
        ValueError: for a negative ``gradient_clip_val`` or another ``gradient_clip_algorithm``.
    """

    def __init__(
        self,
        gradient_clip_val: Optional[float] = None,
        gradient_clip_algorithm: Optional[str] = None,
        lsqr: bool = True,
        norm_eps: float = 1e-8,
        **kwargs: Any,
    ) -> None:
        if gradient_clip_val is not None and not gradient_clip_val >= 0:
            raise ValueError(f"gradient_clip_val must be >= 0 or None, got {gradient_clip_val!r}")
        algorithm = "norm" if gradient_clip_algorithm is None else gradient_clip_algorithm
        if algorithm not in CLIP_ALGORITHMS:
            raise ValueError(f"gradient_clip_algorithm must be one of {list(CLIP_ALGORITHMS)}, got {algorithm!r}")
        super().__init__(**kwargs)
        self.automatic_optimization = False
        self.gradient_clip_val = gradient_clip_val
        self.gradient_clip_algorithm = algorithm
        self.lsqr = bool(lsqr)
        self.norm_eps = float(norm_eps)

    def training_step(self, batch: AtomicDataDict.Type, batch_idx: int) -> torch.Tensor:
        losses = self.training_losses(batch)
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        self._conflict_free_backward(losses)
        if self.gradient_clip_val is not None:
            self.clip_gradients(
                optimizer,
                gradient_clip_val=self.gradient_clip_val,
                gradient_clip_algorithm=self.gradient_clip_algorithm,
            )
        optimizer.step()
        self._step_schedulers("step")
        return losses[f"{LOSS_STEP_PREFIX}weighted_sum"].detach()

    def _conflict_free_backward(self, losses) -> None:
        """Set the parameters' ``.grad`` to the ConFIG update of the weighted loss terms."""
        terms = [
            (losses[f"{LOSS_STEP_PREFIX}{name}"], coeff)
            for name, coeff in self.loss.coeffs.items()
            if coeff is not None and f"{LOSS_STEP_PREFIX}{name}" in losses
        ]
        if len(terms) < 2:
            self.manual_backward(losses[f"{LOSS_STEP_PREFIX}weighted_sum"])
            return
        params = [p for p in self.model.parameters() if p.requires_grad]
        gradients = []
        for index, (value, _) in enumerate(terms):
            self.manual_backward(value, retain_graph=index < len(terms) - 1)
            gradients.append(torch.cat([_flat_grad(p) for p in params]))
            for param in params:
                param.grad = None
        weights = torch.tensor([coeff for _, coeff in terms], dtype=gradients[0].dtype)
        update = conflict_free_direction(torch.stack(gradients), weights, eps=self.norm_eps, lstsq=self.lsqr)
        offsets = [0] + list(accumulate(p.numel() for p in params))
        for param, start, end in zip(params, offsets[:-1], offsets[1:]):
            param.grad = update[start:end].reshape(param.shape).to(param.dtype)

    def _step_schedulers(self, interval: str) -> None:
        """Step the LR scheduler if its ``interval`` is due (Lightning steps none in manual optimization)."""
        config = self.lr_scheduler_config
        if config is None or config.get("interval", "epoch") != interval:
            return
        count = self.trainer.global_step if interval == "step" else self.trainer.current_epoch + 1
        if count % config.get("frequency", 1) != 0:
            return
        scheduler = self.lr_schedulers()
        if not isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.step()
            return
        monitor = config.get("monitor")
        value = self.trainer.callback_metrics.get(monitor)
        if value is None:
            raise ValueError(
                f"lr_scheduler.monitor={monitor!r} was not logged (ReduceLROnPlateau needs a logged metric); "
                f"logged are {sorted(self.trainer.callback_metrics)}"
            )
        scheduler.step(value)

    def on_train_epoch_end(self) -> None:
        super().on_train_epoch_end()
        self._step_schedulers("epoch")


def _flat_grad(param: torch.Tensor) -> torch.Tensor:
    return (
        torch.zeros(param.numel(), dtype=param.dtype, device=param.device)
        if param.grad is None
        else param.grad.reshape(-1)
    )


class EMAConFIGLightningModule(EMALightningModule, ConFIGLightningModule):
    """:class:`ConFIGLightningModule` with the weight EMA of :class:`~nequip.train.EMALightningModule`.

    Args:
        ema_decay: as in :class:`~nequip.train.EMALightningModule` (default 0.999).
        **kwargs: arguments of :class:`ConFIGLightningModule`.
    """

    def training_step(self, batch: AtomicDataDict.Type, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.update_ema()  # manual optimization: Lightning does not call optimizer_step
        return loss
