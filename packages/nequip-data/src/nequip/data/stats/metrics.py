"""Streaming reductions for dataset statistics, as :class:`torchmetrics.Metric` subclasses.

Each metric reduces every entry of the tensors it is given (any shape) to one number.
States are float64 and updated with exact streaming formulas (sums, and the Chan et al.
merge of per-batch mean and squared deviations for the standard deviation), so the
result does not depend on how the data are split into batches, up to float64 rounding.
Being torchmetrics metrics, their states are summed (or gathered and merged) across
processes under DDP when ``compute()`` is called.
"""

import torch
from torchmetrics import Metric

_DTYPE = torch.float64


def _as_float64(metric: Metric, data: torch.Tensor) -> torch.Tensor:
    return data.detach().to(device=metric.device, dtype=_DTYPE).reshape(-1)


class _SumMetric(Metric):
    """Mean of ``transform(x)`` over all entries, kept as a float64 sum and an entry count."""

    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("total", default=torch.zeros((), dtype=_DTYPE), dist_reduce_fx="sum")
        self.add_state("count", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def _transform(self, data: torch.Tensor) -> torch.Tensor:
        return data

    def update(self, data: torch.Tensor) -> None:
        """Add the entries of ``data`` (any shape)."""
        data = _as_float64(self, data)
        self.total = self.total + self._transform(data).sum()
        self.count = self.count + data.numel()

    def _mean(self) -> torch.Tensor:
        # 0/0 = NaN when no entries were seen
        return self.total / self.count.to(_DTYPE)


class Mean(_SumMetric):
    """Mean of all entries.

    Example:
        >>> m = Mean()
        >>> m.update(torch.tensor([1.0, 2.0])); m.update(torch.tensor([[6.0]]))
        >>> m.compute().item()
        3.0
    """

    def compute(self) -> torch.Tensor:
        """Mean of the entries seen (NaN if none)."""
        return self._mean()

    def __str__(self) -> str:
        return "mean"


class MeanAbsolute(_SumMetric):
    """Mean of the absolute values of all entries."""

    def _transform(self, data: torch.Tensor) -> torch.Tensor:
        return data.abs()

    def compute(self) -> torch.Tensor:
        """Mean absolute value of the entries seen (NaN if none)."""
        return self._mean()

    def __str__(self) -> str:
        return "mean_abs"


class RootMeanSquare(_SumMetric):
    """Root mean square of all entries, sqrt(sum x^2 / n).

    For forces, this is the RMS over all Cartesian components of all atoms.
    """

    def _transform(self, data: torch.Tensor) -> torch.Tensor:
        return data.square()

    def compute(self) -> torch.Tensor:
        """RMS of the entries seen (NaN if none)."""
        return self._mean().sqrt()

    def __str__(self) -> str:
        return "rms"


class StandardDeviation(Metric):
    """Standard deviation (or variance) of all entries.

    Per batch, the mean and the sum of squared deviations M2 are computed directly; they
    are merged into the running state with the exact pairwise formula of Chan et al.
    Under DDP each process's (count, mean, M2) is gathered and merged the same way.

    Args:
        squared: return the variance instead of the standard deviation.
        unbiased: divide by ``n - 1`` (sample estimate, the default) instead of ``n``.

    Example:
        >>> s = StandardDeviation()
        >>> s.update(torch.tensor([1.0, 2.0])); s.update(torch.tensor([3.0, 4.0]))
        >>> round(s.compute().item(), 12)
        1.290994448736
    """

    full_state_update = False

    def __init__(self, squared: bool = False, unbiased: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.squared = bool(squared)
        self.unbiased = bool(unbiased)
        # one row per process; rows are merged in compute()
        self.add_state("count", default=torch.zeros(1, dtype=_DTYPE), dist_reduce_fx="cat")
        self.add_state("mean", default=torch.zeros(1, dtype=_DTYPE), dist_reduce_fx="cat")
        self.add_state("m2", default=torch.zeros(1, dtype=_DTYPE), dist_reduce_fx="cat")

    @staticmethod
    def _merge(n_a, mean_a, m2_a, n_b, mean_b, m2_b):
        n = n_a + n_b
        if n == 0:
            return n, mean_a, m2_a
        delta = mean_b - mean_a
        mean = mean_a + delta * (n_b / n)
        m2 = m2_a + m2_b + delta.square() * (n_a * n_b / n)
        return n, mean, m2

    def update(self, data: torch.Tensor) -> None:
        """Add the entries of ``data`` (any shape)."""
        data = _as_float64(self, data)
        n_b = data.numel()
        if n_b == 0:
            return
        mean_b = data.mean()
        m2_b = (data - mean_b).square().sum()
        n, mean, m2 = self._merge(self.count[0], self.mean[0], self.m2[0], float(n_b), mean_b, m2_b)
        self.count = n.reshape(1)
        self.mean = mean.reshape(1)
        self.m2 = m2.reshape(1)

    def compute(self) -> torch.Tensor:
        """Standard deviation (or variance) of the entries seen (NaN if too few)."""
        counts, means, m2s = self.count.reshape(-1), self.mean.reshape(-1), self.m2.reshape(-1)
        n, mean, m2 = counts[0], means[0], m2s[0]
        for i in range(1, counts.numel()):
            n, mean, m2 = self._merge(n, mean, m2, counts[i], means[i], m2s[i])
        denom = n - 1 if self.unbiased else n
        variance = m2 / denom if denom > 0 else torch.full((), float("nan"), dtype=_DTYPE, device=m2.device)
        return variance if self.squared else variance.sqrt()

    def __str__(self) -> str:
        return "var" if self.squared else "std"


class Max(Metric):
    """Largest entry (``-inf`` if none was seen).

    Args:
        abs: take the largest absolute value instead.
    """

    full_state_update = False

    def __init__(self, abs: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.abs = bool(abs)
        self.add_state("max", default=torch.tensor(-float("inf"), dtype=_DTYPE), dist_reduce_fx="max")

    def update(self, data: torch.Tensor) -> None:
        """Add the entries of ``data`` (any shape)."""
        data = _as_float64(self, data)
        if data.numel() > 0:
            self.max = torch.maximum(self.max, (data.abs() if self.abs else data).max())

    def compute(self) -> torch.Tensor:
        """Largest entry seen."""
        return self.max

    def __str__(self) -> str:
        return "absmax" if self.abs else "max"


class Min(Metric):
    """Smallest entry (``inf`` if none was seen).

    Args:
        abs: take the smallest absolute value instead.
    """

    full_state_update = False

    def __init__(self, abs: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.abs = bool(abs)
        self.add_state("min", default=torch.tensor(float("inf"), dtype=_DTYPE), dist_reduce_fx="min")

    def update(self, data: torch.Tensor) -> None:
        """Add the entries of ``data`` (any shape)."""
        data = _as_float64(self, data)
        if data.numel() > 0:
            self.min = torch.minimum(self.min, (data.abs() if self.abs else data).min())

    def compute(self) -> torch.Tensor:
        """Smallest entry seen."""
        return self.min

    def __str__(self) -> str:
        return "absmin" if self.abs else "min"


class Count(Metric):
    """Number of entries seen (e.g. number of force components, or of atoms of a type)."""

    full_state_update = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("count", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, data: torch.Tensor) -> None:
        """Add the number of entries of ``data``."""
        self.count = self.count + data.numel()

    def compute(self) -> torch.Tensor:
        """Number of entries seen."""
        return self.count

    def __str__(self) -> str:
        return "count"
