"""Per-atom linear map, reduction to frames, and per-type scale/shift."""

import doctest

import pytest
import torch

import nequip.nn.scale_shift as scale_shift_module
from nequip.data import keys
from nequip.nn.atomwise import AtomwiseLinear, AtomwiseReduce
from nequip.nn.scale_shift import PerTypeScaleShift
from nequip.nn.testkit import check_module_equivariance

TYPES = ["H", "C", "O"]
E_IN = {keys.PER_ATOM_ENERGY_KEY: "0e"}


def _energies():
    return {
        keys.PER_ATOM_ENERGY_KEY: torch.tensor([[1.0], [2.0], [3.0], [4.0]], dtype=torch.float32),
        keys.ATOM_TYPE_KEY: torch.tensor([0, 2, 1, 2]),
        keys.BATCH_KEY: torch.tensor([0, 0, 1, 1]),
        keys.NUM_NODES_KEY: torch.tensor([2, 2]),
    }


def test_docstring_example():
    result = doctest.testmod(scale_shift_module, extraglobs={"keys": keys, "torch": torch})
    assert result.attempted > 0 and result.failed == 0


def test_scale_shift_numbers_in_float64():
    m = PerTypeScaleShift(
        TYPES, scales={"H": 2.0, "C": 3.0, "O": 4.0}, shifts={"H": -1.0, "C": -10.0, "O": -100.0}, irreps_in=E_IN
    )
    out = m(_energies())[keys.PER_ATOM_ENERGY_KEY]
    assert out.dtype == torch.float64
    assert out.view(-1).tolist() == [2 * 1 - 1, 4 * 2 - 100, 3 * 3 - 10, 4 * 4 - 100]
    single = PerTypeScaleShift(TYPES, scales=0.5, shifts=1.0, irreps_in=E_IN)
    assert single.scales.shape == (1, 1)  # the fast path: no per-atom lookup
    assert single(_energies())[keys.PER_ATOM_ENERGY_KEY].view(-1).tolist() == [1.5, 2.0, 2.5, 3.0]
    none = PerTypeScaleShift(TYPES, irreps_in=E_IN)
    assert none(_energies())[keys.PER_ATOM_ENERGY_KEY].view(-1).tolist() == [1.0, 2.0, 3.0, 4.0]


def test_scale_shift_trainable_and_fixed():
    fixed = PerTypeScaleShift(TYPES, scales=2.0, shifts=1.0, irreps_in=E_IN)
    assert len(list(fixed.parameters())) == 0 and "shifts" in fixed.state_dict()
    trainable = PerTypeScaleShift(TYPES, scales=2.0, shifts=1.0, shifts_trainable=True, irreps_in=E_IN)
    assert [n for n, _ in trainable.named_parameters()] == ["shifts"] and trainable.shifts.shape == (3, 1)
    trainable(_energies())[keys.PER_ATOM_ENERGY_KEY].sum().backward()
    assert trainable.shifts.grad.view(-1).tolist() == [1.0, 1.0, 2.0]
    with pytest.raises(ValueError, match="scales_trainable=True needs initial scales"):
        PerTypeScaleShift(TYPES, scales_trainable=True, irreps_in=E_IN)


def test_scale_shift_validation_names_keys():
    with pytest.raises(
        ValueError, match=r"shifts must have exactly one entry per type name.*missing \['O'\], unknown \['N'\]"
    ):
        PerTypeScaleShift(TYPES, shifts={"H": 1.0, "C": 2.0, "N": 3.0}, irreps_in=E_IN)
    with pytest.raises(ValueError, match="lists are not accepted"):
        PerTypeScaleShift(TYPES, scales=[1.0, 2.0, 3.0], irreps_in=E_IN)
    with pytest.raises(ValueError, match="needs 1x0e"):
        PerTypeScaleShift(TYPES, irreps_in={keys.PER_ATOM_ENERGY_KEY: "1o"})
    with pytest.raises(ValueError, match="per-atom"):
        PerTypeScaleShift(TYPES, field=keys.TOTAL_ENERGY_KEY)


def test_reduce_sums_per_frame_in_float64():
    reduce = AtomwiseReduce(keys.PER_ATOM_ENERGY_KEY, keys.TOTAL_ENERGY_KEY, irreps_in=E_IN)
    out = reduce(_energies())[keys.TOTAL_ENERGY_KEY]
    assert out.dtype == torch.float64 and out.tolist() == [[3.0], [7.0]]
    mean = AtomwiseReduce(keys.PER_ATOM_ENERGY_KEY, reduce="mean", irreps_in=E_IN)
    assert mean(_energies())[f"mean_{keys.PER_ATOM_ENERGY_KEY}"].tolist() == [[1.5], [3.5]]
    normalized = AtomwiseReduce(keys.PER_ATOM_ENERGY_KEY, reduce="normalized_sum", avg_num_atoms=4.0, irreps_in=E_IN)
    assert normalized(_energies())[f"normalized_sum_{keys.PER_ATOM_ENERGY_KEY}"].tolist() == [[1.5], [3.5]]
    with pytest.raises(ValueError, match="reduce='max'"):
        AtomwiseReduce(keys.PER_ATOM_ENERGY_KEY, reduce="max", irreps_in=E_IN)
    with pytest.raises(ValueError, match="per-atom"):
        AtomwiseReduce(keys.TOTAL_ENERGY_KEY, irreps_in=E_IN)


def test_atomwise_linear_is_equivariant_without_bias():
    torch.set_default_dtype(torch.float64)
    try:
        lin = AtomwiseLinear(irreps_in={keys.NODE_FEATURES_KEY: "3x0e+2x1o+1x2e"}, irreps_out="2x0e+1x1o+2x2e")
    finally:
        torch.set_default_dtype(torch.float32)
    data = {
        keys.NODE_FEATURES_KEY: torch.randn(5, 14, dtype=torch.float64),
        keys.POSITIONS_KEY: torch.randn(5, 3, dtype=torch.float64),
    }
    check_module_equivariance(lin, data)
    check_module_equivariance(lin, data, proper=False)
    assert bool(
        (lin({keys.NODE_FEATURES_KEY: torch.zeros(2, 14, dtype=torch.float64)})[keys.NODE_FEATURES_KEY] == 0).all()
    )
