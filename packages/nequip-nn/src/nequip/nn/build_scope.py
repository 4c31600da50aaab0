"""The two scopes a model's weights are drawn in: their dtype and a seeded random state.

Layers create their parameters with torch's default dtype and draw them from torch's
default CPU generator (e3nn's layers take no ``generator`` argument), so a builder sets
both for the duration of the build and restores the caller's afterwards:

* :func:`default_dtype`: torch's default dtype inside, the caller's after;
* :func:`seeded_rng`: the default CPU generator seeded inside, the caller's random state
  (CPU, and CUDA where initialized) restored after, so building a model never changes the
  caller's random numbers and the same seed always gives the same weights.

Example:
    >>> _ = torch.manual_seed(5)
    >>> expected = torch.rand(1)
    >>> _ = torch.manual_seed(5)
    >>> with default_dtype(MODEL_DTYPES["float64"]), seeded_rng(0):
    ...     weight = torch.nn.Linear(2, 2).weight
    >>> weight.dtype, torch.equal(torch.rand(1), expected), torch.get_default_dtype()
    (torch.float64, True, torch.float32)
"""

import contextlib
from typing import Dict, Iterator

import torch

#: Allowed ``model_dtype`` names -> the dtype of the weights.
MODEL_DTYPES: Dict[str, torch.dtype] = {"float32": torch.float32, "float64": torch.float64}


def check_model_dtype(model_dtype: str) -> torch.dtype:
    """The torch dtype named ``model_dtype``.

    Raises:
        ValueError: for a name not in :data:`MODEL_DTYPES`, listing the allowed names.
    """
    if not isinstance(model_dtype, str) or model_dtype not in MODEL_DTYPES:
        raise ValueError(f"model_dtype={model_dtype!r} is not allowed; allowed are {list(MODEL_DTYPES)}")
    return MODEL_DTYPES[model_dtype]


@contextlib.contextmanager
def default_dtype(dtype: torch.dtype) -> Iterator[None]:
    """torch's default dtype is ``dtype`` inside; the caller's is restored after, also on errors."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(previous)


@contextlib.contextmanager
def seeded_rng(seed: int) -> Iterator[None]:
    """torch's default CPU generator is seeded with ``seed`` inside; the caller's CPU and CUDA
    random states are restored after.

    Only the CPU generator is seeded (weights are drawn on the CPU): ``torch.manual_seed``
    would also queue a seed for CUDA generators that are not initialized yet.
    """
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        yield
