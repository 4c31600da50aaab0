"""The physics test-kit: passes on models built from this package's layers, fails on broken ones."""

import functools

import pytest
import torch

from nequip.data import AtomicDataDict, keys
from nequip.nn.kernels import scatter_sum
from nequip.nn.testkit import (
    check_all,
    check_batch_consistency,
    check_cutoff_smoothness,
    check_forces_finite_differences,
    check_isolated_atoms,
    check_locality,
    check_periodic_images,
    check_permutation_equivariance,
    check_reflection_equivariance,
    check_rotation_equivariance,
    check_stress_finite_differences,
    check_translation_invariance,
    random_bulk,
    random_cluster,
    small_nequip_model,
)

TYPES = ["H", "O"]
R_MAX = 3.0
SHIFTS = {"H": -1.5, "O": -4.0}


@pytest.mark.parametrize("model_dtype", ["float64", "float32"])
@pytest.mark.parametrize("l_max,parity", [(0, False), (1, False), (1, True), (2, False), (2, True)])
def test_kit_passes_on_nequip_style_model(l_max, parity, model_dtype):
    model = small_nequip_model(
        TYPES,
        R_MAX,
        l_max=l_max,
        parity=parity,
        model_dtype=model_dtype,
        per_type_energy_shifts=SHIFTS,
        per_type_energy_scales={"H": 0.5, "O": 2.0},
    )
    # no bias anywhere on the energy path
    assert not any("bias" in name for name, _ in model.named_parameters())
    check_all(model, TYPES, R_MAX, SHIFTS)


def test_kit_passes_with_per_edge_type_cutoffs_and_resnet():
    cutoffs = {"H": {"H": 2.0, "O": 2.5}, "O": 3.0}
    model = small_nequip_model(
        TYPES, R_MAX, l_max=1, per_type_energy_shifts=SHIFTS, per_edge_type_cutoff=cutoffs, resnet=True, num_layers=3
    )
    assert model.metadata["per_edge_type_cutoff"] == "2.0 2.5 3.0 3.0"
    check_all(model, TYPES, R_MAX, SHIFTS)


# ----------------------------------------------------------------------------------------
# Deliberately broken models: every check must catch at least one of them.


@functools.lru_cache(maxsize=1)
def _healthy_model():
    return small_nequip_model(TYPES, R_MAX, l_max=1, per_type_energy_shifts=SHIFTS)


class _Broken(torch.nn.Module):
    """A correct model plus a defect applied to its inputs or outputs."""

    model_dtype = torch.float64

    def __init__(self, defect):
        super().__init__()
        self.inner = _healthy_model()
        self.defect = defect

    def forward(self, data):
        return self.defect(self.inner, dict(data))


def _add_per_atom(out, data, extra):
    """Add ``extra`` (N,) to the per-atom energies and their frame sums."""
    out[keys.PER_ATOM_ENERGY_KEY] = out[keys.PER_ATOM_ENERGY_KEY] + extra.view(-1, 1)
    out[keys.TOTAL_ENERGY_KEY] = out[keys.TOTAL_ENERGY_KEY] + scatter_sum(
        extra.view(-1, 1), data[keys.BATCH_KEY], data[keys.NUM_NODES_KEY].shape[0]
    )
    return out


def non_invariant(inner, data):  # depends on absolute x coordinates
    return _add_per_atom(inner(data), data, 0.1 * data[keys.POSITIONS_KEY][:, 0])


def chiral(inner, data):  # rotation-invariant pseudoscalar: changes sign under reflection
    pos = data[keys.POSITIONS_KEY]
    triple = torch.dot(pos[1] - pos[0], torch.linalg.cross(pos[2] - pos[0], pos[3] - pos[0]))
    extra = torch.zeros(pos.shape[0], dtype=pos.dtype)
    extra[0] = 0.1 * triple
    return _add_per_atom(inner(data), data, extra)


def index_dependent(inner, data):  # depends on the order of the atoms
    n = data[keys.POSITIONS_KEY].shape[0]
    return _add_per_atom(inner(data), data, 0.01 * torch.arange(n, dtype=torch.float64))


def wrong_forces(inner, data):
    out = inner(data)
    out[keys.FORCE_KEY] = 1.05 * out[keys.FORCE_KEY]
    return out


def wrong_stress(inner, data):
    out = inner(data)
    out[keys.STRESS_KEY] = 1.05 * out[keys.STRESS_KEY]
    out[keys.VIRIAL_KEY] = 1.05 * out[keys.VIRIAL_KEY]
    return out


def batch_dependent(inner, data):  # every atom sees how many atoms the whole batch has
    n = data[keys.POSITIONS_KEY].shape[0]
    return _add_per_atom(inner(data), data, torch.full((n,), 0.01 * n, dtype=torch.float64))


def ignores_cell_shifts(inner, data):  # periodic images treated as the atoms themselves
    data[keys.EDGE_CELL_SHIFT_KEY] = torch.zeros_like(data[keys.EDGE_CELL_SHIFT_KEY])
    return inner(data)


def energy_bias(inner, data):  # a bias on the energy path: isolated atoms are off their shifts
    n = data[keys.POSITIONS_KEY].shape[0]
    return _add_per_atom(inner(data), data, torch.full((n,), 0.1, dtype=torch.float64))


def _pair_term(data, function):
    """sum over edges of function(r_ij), assigned to the centers."""
    data = AtomicDataDict.with_edge_vectors_(dict(data))
    center = data[keys.EDGE_INDEX_KEY][0]
    return scatter_sum(function(data[keys.EDGE_LENGTH_KEY]), center, data[keys.POSITIONS_KEY].shape[0])


def hard_cutoff(inner, data):  # energy jumps when a neighbor crosses r_max
    return _add_per_atom(inner(data), data, _pair_term(data, lambda r: 0.1 * (r < R_MAX).to(r.dtype)))


def linear_taper(inner, data):  # energy continuous at r_max but the force jumps
    out = inner(data)
    pos = data[keys.POSITIONS_KEY].detach().requires_grad_(True)
    extra = _pair_term({**data, keys.POSITIONS_KEY: pos}, lambda r: 0.1 * torch.relu(1 - r / R_MAX))
    (grad,) = torch.autograd.grad(extra.sum(), pos)
    out[keys.FORCE_KEY] = out[keys.FORCE_KEY] - grad
    return _add_per_atom(out, data, extra.detach())


def long_range(inner, data):  # every pair of atoms interacts, whatever the distance
    pos = data[keys.POSITIONS_KEY]
    same_frame = data[keys.BATCH_KEY].view(-1, 1) == data[keys.BATCH_KEY].view(1, -1)
    dist = torch.cdist(pos, pos)
    extra = (0.1 * torch.exp(-dist / 5.0) * same_frame * (dist > 0)).sum(1)
    return _add_per_atom(inner(data), data, extra)


CLUSTER = random_cluster(TYPES, R_MAX, num_atoms=5)
BULK = random_bulk(TYPES, R_MAX, num_atoms=3)
CASES = [
    (check_rotation_equivariance, non_invariant, lambda m: (m, CLUSTER)),
    (check_reflection_equivariance, chiral, lambda m: (m, CLUSTER)),
    (check_translation_invariance, non_invariant, lambda m: (m, CLUSTER)),
    (check_permutation_equivariance, index_dependent, lambda m: (m, CLUSTER)),
    (check_forces_finite_differences, wrong_forces, lambda m: (m, CLUSTER)),
    (check_stress_finite_differences, wrong_stress, lambda m: (m, BULK)),
    (check_batch_consistency, batch_dependent, lambda m: (m, [CLUSTER, BULK])),
    (check_periodic_images, ignores_cell_shifts, lambda m: (m, BULK, R_MAX)),
    (check_isolated_atoms, energy_bias, lambda m: (m, TYPES, R_MAX, SHIFTS)),
    (check_cutoff_smoothness, hard_cutoff, lambda m: (m, TYPES, R_MAX)),
    (check_cutoff_smoothness, linear_taper, lambda m: (m, TYPES, R_MAX)),
    (check_locality, long_range, lambda m: (m, CLUSTER, R_MAX)),
]


@pytest.mark.parametrize("check,defect,arguments", CASES, ids=[f"{c.__name__}-{d.__name__}" for c, d, _ in CASES])
def test_each_check_fails_on_a_broken_model(check, defect, arguments):
    healthy = _Broken(lambda inner, data: inner(data))
    check(*arguments(healthy))  # the same check passes on the healthy model ...
    with pytest.raises(AssertionError):
        check(*arguments(_Broken(defect)))  # ... and catches the defect


def test_energy_model_compiles():
    """torch.compile smoke test of a whole energy model (embeddings, convnets, readout, scale-shift).

    ``aot_eager`` traces with dynamo and AOT autograd without building C++ kernels; forces
    come from differentiating the compiled energy.
    """
    model = small_nequip_model(TYPES, R_MAX, l_max=1, per_type_energy_shifts=SHIFTS)
    energy_model = model.model.func
    compiled = torch.compile(energy_model, backend="aot_eager")
    data = random_bulk(TYPES, R_MAX, num_atoms=3)
    pos = data[keys.POSITIONS_KEY].clone().requires_grad_(True)
    eager = energy_model({**data, keys.POSITIONS_KEY: pos})[keys.TOTAL_ENERGY_KEY]
    traced = compiled({**data, keys.POSITIONS_KEY: pos})[keys.TOTAL_ENERGY_KEY]
    torch.testing.assert_close(traced, eager)
    (f_eager,) = torch.autograd.grad(eager.sum(), pos)
    (f_traced,) = torch.autograd.grad(traced.sum(), pos)
    torch.testing.assert_close(f_traced, f_eager)
