"""Calling a model on a frame and comparing outputs with a dtype-aware tolerance."""

from typing import Callable, Optional

import torch

from nequip.data import AtomicDataDict, keys

Model = Callable[[AtomicDataDict.Type], AtomicDataDict.Type]

#: Outputs the checks compare (those a model does not write are skipped).
OUTPUT_FIELDS = (keys.TOTAL_ENERGY_KEY, keys.PER_ATOM_ENERGY_KEY, keys.FORCE_KEY, keys.STRESS_KEY, keys.VIRIAL_KEY)


def default_tolerance(model: Model) -> float:
    """Relative tolerance: 1e-9 for float64 models, 2e-4 for float32 (``model.model_dtype``)."""
    dtype = getattr(model, "model_dtype", torch.float64)
    return 1e-9 if dtype == torch.float64 else 2e-4


def evaluate(model: Model, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
    """Outputs of ``model`` on a shallow copy of ``data``, detached."""
    out = model(dict(data))
    return {k: v.detach() for k, v in out.items() if k in OUTPUT_FIELDS}


def assert_close(
    what: str, got: torch.Tensor, expected: torch.Tensor, tol: float, scale: Optional[float] = None
) -> None:
    """Assert ``|got - expected| <= tol * (1 + scale)`` elementwise (NaNs must match).

    ``scale`` defaults to the largest finite ``|expected|``.
    """
    got, expected = got.to(torch.float64), expected.to(torch.float64)
    if got.shape != expected.shape:
        raise AssertionError(f"{what}: shape {tuple(got.shape)} != expected {tuple(expected.shape)}")
    nan_got, nan_expected = torch.isnan(got), torch.isnan(expected)
    if not torch.equal(nan_got, nan_expected):
        raise AssertionError(f"{what}: NaN entries differ")
    finite = ~nan_expected
    if not bool(finite.any()):
        return
    if scale is None:
        scale = float(expected[finite].abs().max())
    bound = tol * (1.0 + scale)
    error = float((got[finite] - expected[finite]).abs().max())
    if not error <= bound:
        raise AssertionError(f"{what}: max deviation {error:.3e} exceeds tolerance {bound:.3e}")
