"""Error metrics between predictions and targets, accumulated over an epoch.

Each metric is a ``torchmetrics.Metric`` that keeps sums (not per-batch means), so an
epoch value is the same whatever the batch size, and torchmetrics syncs it across DDP
processes. Calling a metric on a batch returns that batch's value (differentiable, so
a metric can serve as a loss) and adds the batch to the epoch's accumulators.

The Huber losses use ``huber_delta(x) = 0.5 x^2`` for ``|x| < delta`` and
``delta (|x| - delta / 2)`` beyond (``torch.nn.functional.huber_loss``); ``delta`` is in the
units of the field.

Example:
    >>> import torch
    >>> mae = MeanAbsoluteError()
    >>> float(mae(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])))
    1.5
    >>> _ = mae(torch.tensor([3.0]), torch.tensor([0.0]))
    >>> float(mae.compute())  # (1 + 2 + 3) / 3, not the mean of batch means
    2.0
"""

import math
from typing import Mapping

import torch
from torchmetrics import Metric

#: Allowed ``reduction`` of the Huber losses.
REDUCTIONS = ("mean", "sum")


def huber(diff: torch.Tensor, delta) -> torch.Tensor:
    """Elementwise Huber function of ``diff`` (``delta`` a number or a tensor broadcasting with it).

    Written as ``q (|x| - q / 2)`` with ``q = min(|x|, delta)``, which stays finite (values and
    gradients) for an infinite ``delta`` (the pure quadratic ``x^2 / 2``).
    """
    magnitude = diff.abs()
    clipped = torch.minimum(magnitude, torch.as_tensor(delta, dtype=diff.dtype, device=diff.device))
    return clipped * (magnitude - 0.5 * clipped)


class _ErrorMetric(Metric):
    """A metric of ``(preds, target)`` whose call returns the batch value and accumulates the batch."""

    is_differentiable = True
    higher_is_better = False
    full_state_update = False

    def batch_value(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The metric of this batch alone."""
        raise NotImplementedError

    def forward(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Add a batch and return its value (differentiable with respect to ``preds`` where the metric is)."""
        self.update(preds.detach(), target)
        return self.batch_value(preds, target.to(preds.dtype))


class _SumCountMetric(_ErrorMetric):
    """Mean (or sum) of an elementwise error: ``reduce(sum(error(pred, target)), count)``."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("error_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def _error(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Elementwise error, the shape of ``preds``."""
        raise NotImplementedError

    def _reduce(self, error_sum: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        return error_sum / count

    def batch_value(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self._reduce(self._error(preds, target).sum(), torch.tensor(preds.numel(), device=preds.device))

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch: ``preds`` and ``target`` of the same shape, any units."""
        error = self._error(preds.detach(), target.to(preds.dtype).detach())
        self.error_sum = self.error_sum + error.sum().to(self.error_sum.dtype)
        self.count = self.count + error.numel()

    def compute(self) -> torch.Tensor:
        """The mean error of everything added since the last reset (NaN if nothing was)."""
        return self._reduce(self.error_sum, self.count)


class MeanAbsoluteError(_SumCountMetric):
    """Mean of ``|pred - target|`` over all components (units of the field)."""

    def _error(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (preds - target).abs()


class MeanSquaredError(_SumCountMetric):
    """Mean of ``(pred - target)^2`` over all components (units of the field squared)."""

    def _error(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (preds - target).square()


class RootMeanSquaredError(MeanSquaredError):
    """Square root of :class:`MeanSquaredError` (units of the field)."""

    def _reduce(self, error_sum: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        return (error_sum / count).sqrt()


class MaximumAbsoluteError(_ErrorMetric):
    """Largest ``|pred - target|`` over all components (units of the field)."""

    is_differentiable = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("max_error", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="max")

    def batch_value(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        diff = (preds.detach() - target).abs()
        return diff.max() if diff.numel() > 0 else diff.new_zeros(())

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch: ``preds`` and ``target`` of the same shape."""
        if preds.numel() > 0:
            largest = self.batch_value(preds, target.to(preds.dtype)).to(self.max_error.dtype)
            self.max_error = torch.maximum(self.max_error, largest)

    def compute(self) -> torch.Tensor:
        """The largest absolute error since the last reset (0 if nothing was added)."""
        return self.max_error


def _check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {list(REDUCTIONS)}, got {reduction!r}")
    return reduction


class _ReducedHuber(_SumCountMetric):
    """A Huber loss reduced by its ``reduction``: the mean over components, or their sum."""

    def __init__(self, reduction: str = "mean", **kwargs) -> None:
        super().__init__(**kwargs)
        self.reduction = _check_reduction(reduction)

    def _reduce(self, error_sum: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        return error_sum / count if self.reduction == "mean" else error_sum


class HuberLoss(_ReducedHuber):
    """Huber loss of ``pred - target`` over all components (as ``torch.nn.HuberLoss``).

    Args:
        reduction: ``"mean"`` (default) or ``"sum"`` over the components (of a batch, or of an epoch).
        delta: where the loss turns from quadratic to linear, in units of the field (default 1).

    Raises:
        ValueError: for another ``reduction`` or a ``delta`` that is not positive.
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0, **kwargs) -> None:
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta > 0:
            raise ValueError(f"HuberLoss: delta must be a positive number, got {delta!r}")
        super().__init__(reduction=reduction, **kwargs)
        self.delta = float(delta)

    def _error(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return huber(preds - target, self.delta)


class StratifiedHuberForceLoss(_ReducedHuber):
    """Huber loss of vectors (forces) whose ``delta`` depends on the magnitude of the reference vector.

    ``delta_dict`` maps lower bounds of the reference magnitude ``|target|`` to a ``delta``: a
    vector whose reference magnitude lies in ``[bound_k, bound_{k+1})`` has the Huber loss of
    ``delta_k`` on each of its components. When the smallest bound is above zero, vectors below
    it get the quadratic part alone (``x^2 / 2``, an infinite ``delta``). Bounds and deltas are in
    the units of the field.

    Args:
        delta_dict: ``{lower bound: delta}``, bounds ``>= 0``, deltas ``> 0``; at least two
            strata once the zero bound is added.
        reduction: ``"mean"`` (default) or ``"sum"`` over the components.

    Raises:
        ValueError: for negative bounds, non-positive deltas, or a single stratum (use
            :class:`HuberLoss`).
    """

    def __init__(self, delta_dict: Mapping[float, float], reduction: str = "mean", **kwargs) -> None:
        if not isinstance(delta_dict, Mapping) or not delta_dict:
            raise ValueError(
                f"StratifiedHuberForceLoss: delta_dict must be a {{bound: delta}} dict, got {delta_dict!r}"
            )
        strata = sorted((float(bound), float(delta)) for bound, delta in delta_dict.items())
        if strata[0][0] < 0 or any(not delta > 0 for _, delta in strata):
            raise ValueError(
                f"StratifiedHuberForceLoss: bounds must be >= 0 and deltas > 0, got delta_dict={dict(delta_dict)!r}"
            )
        if strata[0][0] > 0:
            strata.insert(0, (0.0, math.inf))
        if len(strata) < 2:
            raise ValueError(
                f"StratifiedHuberForceLoss needs at least two strata, got delta_dict={dict(delta_dict)!r}; "
                "use nequip.train.HuberLoss for a single delta"
            )
        super().__init__(reduction=reduction, **kwargs)
        self.delta_dict = dict(strata)
        self.register_buffer("bounds", torch.tensor([b for b, _ in strata], dtype=torch.float64), persistent=False)
        self.register_buffer("deltas", torch.tensor([d for _, d in strata], dtype=torch.float64), persistent=False)

    def _error(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        magnitude = torch.linalg.vector_norm(target, dim=-1).to(torch.float64)
        stratum = torch.bucketize(magnitude, self.bounds.to(magnitude.device), right=True) - 1
        delta = self.deltas.to(magnitude.device)[stratum].to(preds.dtype).unsqueeze(-1)
        return huber(preds - target, delta)
