"""E(3) and permutation equivariance of every model output.

Under a rotation or reflection R (positions r R^T + t, cell h R^T): energies are invariant,
forces rotate as R F, stress and virial as R S R^T. Under a permutation of atoms, per-atom
outputs are permuted and per-frame outputs unchanged.
"""

from typing import Optional

import torch

from nequip.data import AtomicDataDict, keys

from ._compare import Model, assert_close, default_tolerance, evaluate
from .frames import permuted, random_rotation, transformed


def _expected_after(out: AtomicDataDict.Type, rotation: torch.Tensor) -> AtomicDataDict.Type:
    rot = rotation.to(torch.float64)
    expected = dict(out)
    if keys.FORCE_KEY in out:
        expected[keys.FORCE_KEY] = out[keys.FORCE_KEY] @ rot.T
    for field in (keys.STRESS_KEY, keys.VIRIAL_KEY):
        if field in out:
            expected[field] = rot @ out[field] @ rot.T
    return expected


def _compare_all(what: str, got: AtomicDataDict.Type, expected: AtomicDataDict.Type, tol: float) -> None:
    for field, value in expected.items():
        if field not in got:
            raise AssertionError(f"{what}: output {field!r} is missing")
        assert_close(f"{what}: {field}", got[field], value, tol)


def check_rotation_equivariance(
    model: Model, data: AtomicDataDict.Type, tol: Optional[float] = None, seed: int = 0
) -> None:
    """Random proper rotation plus translation; raises ``AssertionError`` on violation."""
    tol = default_tolerance(model) if tol is None else tol
    out = evaluate(model, data)
    rotation = random_rotation(seed, proper=True)
    got = evaluate(model, transformed(data, rotation=rotation))
    _compare_all("rotation", got, _expected_after(out, rotation), tol)


def check_reflection_equivariance(
    model: Model, data: AtomicDataDict.Type, tol: Optional[float] = None, seed: int = 1
) -> None:
    """Random improper rotation (det -1); raises ``AssertionError`` on violation."""
    tol = default_tolerance(model) if tol is None else tol
    out = evaluate(model, data)
    rotation = random_rotation(seed, proper=False)
    got = evaluate(model, transformed(data, rotation=rotation))
    _compare_all("reflection", got, _expected_after(out, rotation), tol)


def check_translation_invariance(model: Model, data: AtomicDataDict.Type, tol: Optional[float] = None) -> None:
    """All outputs unchanged by a rigid translation; raises ``AssertionError`` on violation."""
    tol = default_tolerance(model) if tol is None else tol
    out = evaluate(model, data)
    shift = torch.tensor([1.7, -2.3, 0.9], dtype=torch.float64)
    _compare_all("translation", evaluate(model, transformed(data, translation=shift)), out, tol)


def check_permutation_equivariance(
    model: Model, data: AtomicDataDict.Type, tol: Optional[float] = None, seed: int = 0
) -> None:
    """Per-atom outputs follow a random permutation of a single frame's atoms; per-frame ones are unchanged."""
    tol = default_tolerance(model) if tol is None else tol
    if data[keys.NUM_NODES_KEY].shape[0] != 1:
        raise ValueError("check_permutation_equivariance needs a single frame")
    n = data[keys.POSITIONS_KEY].shape[0]
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    if n > 1 and bool((perm == torch.arange(n)).all()):
        perm = torch.roll(perm, 1)
    out = evaluate(model, data)
    expected = {k: (v[perm] if k in (keys.FORCE_KEY, keys.PER_ATOM_ENERGY_KEY) else v) for k, v in out.items()}
    _compare_all("permutation", evaluate(model, permuted(data, perm)), expected, tol)


def check_equivariance(model: Model, data: AtomicDataDict.Type, tol: Optional[float] = None) -> None:
    """Rotation, reflection, translation and (for a single frame) permutation checks."""
    check_rotation_equivariance(model, data, tol)
    check_reflection_equivariance(model, data, tol)
    check_translation_invariance(model, data, tol)
    if data[keys.NUM_NODES_KEY].shape[0] == 1:
        check_permutation_equivariance(model, data, tol)


def wigner_d(irreps, rotation: torch.Tensor) -> torch.Tensor:
    """Float64 representation matrix of ``rotation`` (3, 3) on ``irreps`` (e3nn builds it in the
    default dtype, so it is computed here with float64 as default)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return irreps.D_from_matrix(rotation.to(torch.float64))
    finally:
        torch.set_default_dtype(previous)


def _rotate_field(value: torch.Tensor, irreps, rotation: torch.Tensor) -> torch.Tensor:
    if value.dim() == 1 or not value.is_floating_point():
        return value  # invariant per-edge/per-node scalars such as lengths, or indices
    return value @ wigner_d(irreps, rotation).to(value.dtype).T


def check_module_equivariance(
    module, data: AtomicDataDict.Type, tol: Optional[float] = None, seed: int = 0, proper: bool = True
) -> None:
    """Equivariance of a single graph module: rotating its inputs rotates its outputs.

    Positions and cell are rotated; every other input field with irreps (e.g.
    ``node_features``) is transformed by the Wigner D matrices of its irreps (parity included
    for ``proper=False``); every floating output field with irreps must then equal the
    original output transformed the same way.

    Args:
        module: a :class:`~nequip.nn.graph_module.GraphModuleMixin` module.
        data: its input fields.
        tol: relative tolerance (default 1e-9 for float64 parameters, else 2e-4).
        seed: seed of the random rotation.
        proper: rotation (``True``) or rotation times inversion (``False``).
    """
    if tol is None:
        params = [p for p in module.parameters() if p.is_floating_point()]
        tol = 1e-9 if not params or params[0].dtype == torch.float64 else 2e-4
    rotation = random_rotation(seed, proper=proper)
    rotated = transformed(data, rotation=rotation)
    for field, irreps in module.irreps_in.items():
        if field in data and irreps is not None and field not in (keys.POSITIONS_KEY, keys.CELL_KEY):
            rotated[field] = _rotate_field(data[field], irreps, rotation)
    out = module(dict(data))
    got = module(rotated)
    checked = 0
    for field, irreps in module.irreps_out.items():
        if irreps is None or field in (keys.POSITIONS_KEY, keys.CELL_KEY) or field not in out:
            continue
        if out[field].dim() > 1 and out[field].shape[-1] != irreps.dim:
            continue
        expected = _rotate_field(out[field].detach(), irreps, rotation)
        assert_close(
            f"{type(module).__name__} {'rotation' if proper else 'reflection'}: {field}",
            got[field].detach(),
            expected,
            tol,
        )
        checked += 1
    if checked == 0:
        raise ValueError(f"{type(module).__name__} writes no field with irreps to check")
