"""Scatter-sum along the first dimension: the reduction from edges to atoms and atoms to frames.

``scatter_sum(src, index, dim_size)[n] = sum over rows e with index[e] == n of src[e]``.

Two implementations give the same numbers up to summation order:

* :func:`scatter_sum_reference`: ``torch.Tensor.index_add_`` (plain torch, always available);
* torch-scatter's ``scatter_add`` when the optional ``torch-scatter`` package is installed.

:func:`scatter_sum` uses ``index_add_`` by default (``SCATTER_BACKEND``): on CPU,
torch-scatter was not faster than ``index_add_`` in the scatter comparison of
``tools/bench_nn_kernels.py`` (``docs/benchmarks.md``), so the optional dependency buys nothing here. Under
``torch.compile`` and TorchScript ``index_add_`` is always used, since torch-scatter's
custom operator cannot be traced.
"""

from typing import Final

import torch

try:  # optional accelerator
    import torch_scatter as _torch_scatter
except ImportError:  # pragma: no cover - depends on the environment
    _torch_scatter = None

HAS_TORCH_SCATTER: bool = _torch_scatter is not None

#: Default ``backend`` of :func:`scatter_sum` (a constant: callers that want torch-scatter
#: pass ``backend="torch_scatter"``; nothing reads a module-level switch at call time).
SCATTER_BACKEND: Final[str] = "index_add"


def scatter_sum_reference(src: torch.Tensor, index: torch.Tensor, dim_size: int) -> torch.Tensor:
    """Obviously-correct scatter-sum with ``index_add_``.

    Args:
        src: (E, ...) values.
        index: (E,) int64 target row of each value, in ``[0, dim_size)``.
        dim_size: number of output rows.

    Returns:
        (dim_size, ...) sums, same dtype as ``src``.
    """
    out = torch.zeros((dim_size,) + tuple(src.shape[1:]), dtype=src.dtype, device=src.device)
    return out.index_add_(0, index, src)


def scatter_sum(src: torch.Tensor, index: torch.Tensor, dim_size: int, backend: str = SCATTER_BACKEND) -> torch.Tensor:
    """Scatter-sum of ``src`` rows into ``dim_size`` rows by ``index`` (see module docstring).

    Args:
        src: (E, ...) values.
        index: (E,) int64 target rows.
        dim_size: number of output rows.
        backend: ``"index_add"`` (default, :data:`SCATTER_BACKEND`) or ``"torch_scatter"``
            (``index_add`` when torch-scatter is not installed, is being traced or compiled).

    Returns:
        (dim_size, ...) tensor of sums, same dtype as ``src``.
    """
    if (
        backend == "torch_scatter"
        and _torch_scatter is not None
        and not torch.jit.is_scripting()
        and not torch.compiler.is_compiling()
    ):
        return _torch_scatter.scatter_add(src, index, dim=0, dim_size=dim_size)
    if backend not in ("index_add", "torch_scatter"):
        raise ValueError(f"backend={backend!r} is not allowed; allowed are 'index_add', 'torch_scatter'")
    return scatter_sum_reference(src, index, dim_size)
