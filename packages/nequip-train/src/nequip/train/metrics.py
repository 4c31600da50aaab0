"""Error metrics between predictions and targets, accumulated over an epoch.

Each metric is a ``torchmetrics.Metric`` that keeps sums (not per-batch means), so an
epoch value is the same whatever the batch size, and torchmetrics syncs it across DDP
processes. Calling a metric on a batch returns that batch's value (differentiable, so
a metric can serve as a loss) and adds the batch to the epoch's accumulators.

Example:
    >>> import torch
    >>> mae = MeanAbsoluteError()
    >>> float(mae(torch.tensor([1.0, 2.0]), torch.tensor([0.0, 0.0])))
    1.5
    >>> _ = mae(torch.tensor([3.0]), torch.tensor([0.0]))
    >>> float(mae.compute())  # (1 + 2 + 3) / 3, not the mean of batch means
    2.0
"""

import torch
from torchmetrics import Metric


class _SumCountMetric(Metric):
    """Mean of an elementwise error: ``sum(error(pred, target)) / count``."""

    is_differentiable = True
    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("error_sum", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def _error(self, diff: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _reduce(self, error_sum: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        return error_sum / count

    def forward(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Add a batch and return its value, differentiable with respect to ``preds``."""
        self.update(preds.detach(), target)
        diff = preds - target.to(preds.dtype)
        return self._reduce(self._error(diff).sum(), torch.tensor(diff.numel(), device=diff.device))

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch: ``preds`` and ``target`` of the same shape, any units."""
        diff = (preds - target.to(preds.dtype)).detach()
        self.error_sum = self.error_sum + self._error(diff).sum().to(self.error_sum.dtype)
        self.count = self.count + diff.numel()

    def compute(self) -> torch.Tensor:
        """The mean error of everything added since the last reset (NaN if nothing was)."""
        return self._reduce(self.error_sum, self.count)


class MeanAbsoluteError(_SumCountMetric):
    """Mean of ``|pred - target|`` over all components (units of the field)."""

    def _error(self, diff: torch.Tensor) -> torch.Tensor:
        return diff.abs()


class MeanSquaredError(_SumCountMetric):
    """Mean of ``(pred - target)^2`` over all components (units of the field squared)."""

    def _error(self, diff: torch.Tensor) -> torch.Tensor:
        return diff.square()


class RootMeanSquaredError(MeanSquaredError):
    """Square root of :class:`MeanSquaredError` (units of the field)."""

    def _reduce(self, error_sum: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
        return (error_sum / count).sqrt()


class MaximumAbsoluteError(Metric):
    """Largest ``|pred - target|`` over all components (units of the field)."""

    is_differentiable = False
    higher_is_better = False
    full_state_update = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("max_error", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="max")

    def forward(self, preds: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Add a batch and return its largest absolute error."""
        self.update(preds, target)
        diff = (preds.detach() - target.to(preds.dtype)).abs()
        return diff.max() if diff.numel() > 0 else diff.new_zeros(())

    def update(self, preds: torch.Tensor, target: torch.Tensor) -> None:
        """Add a batch: ``preds`` and ``target`` of the same shape."""
        diff = (preds.detach() - target.to(preds.dtype)).abs()
        if diff.numel() > 0:
            self.max_error = torch.maximum(self.max_error, diff.max().detach().to(self.max_error.dtype))

    def compute(self) -> torch.Tensor:
        """The largest absolute error since the last reset (0 if nothing was added)."""
        return self.max_error
