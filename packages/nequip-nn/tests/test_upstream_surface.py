"""The names extension packages import from ``nequip.nn`` (upstream NequIP's surface): the
adapters over this package's modules and the small field modules."""

import pytest
import torch
from e3nn import o3

from nequip.data import AtomicDataDict, keys
from nequip.nn import (
    ApplyFactor,
    AtomwiseOperation,
    AvgNumNeighborsNorm,
    Concat,
    ForceStressOutput,
    PartialForceOutput,
    SaveForOutput,
    SequentialGraphNetwork,
    scatter,
    with_edge_type_,
    with_edge_vectors_,
)
from nequip.nn.testkit import random_bulk, small_nequip_model

TYPES = ["H", "O"]


def test_scatter_matches_a_loop_along_any_dim():
    src = torch.randn(3, 10, 2, dtype=torch.float64)
    index = torch.tensor([0, 2, 2, 1, 0, 4, 4, 4, 1, 0])
    expected = torch.stack([src[:, index == k].sum(1) for k in range(5)], dim=1)
    torch.testing.assert_close(scatter(src, index, dim=1), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(scatter(src, index, dim=-2, dim_size=7)[:, :5], expected, rtol=0, atol=1e-12)
    out = torch.ones(3, 5, 2, dtype=torch.float64)
    assert scatter(src, index, dim=1, out=out) is out
    torch.testing.assert_close(out, expected + 1, rtol=0, atol=1e-12)
    assert scatter(src[:, :0], index[:0], dim=1).shape == (3, 0, 2)
    with pytest.raises(ValueError, match="reduce='max' is not allowed"):
        scatter(src, index, dim=1, reduce="max")
    with pytest.raises(ValueError, match=r"index must have shape \(10,\)"):
        scatter(src, index[:4], dim=1)


def test_with_edge_vectors_reads_and_writes_other_fields():
    data = random_bulk(TYPES, 3.0, num_atoms=4)
    standard = with_edge_vectors_(dict(data))
    renamed = dict(data)
    renamed["other_index"] = renamed.pop(keys.EDGE_INDEX_KEY)
    renamed["other_shift"] = renamed.pop(keys.EDGE_CELL_SHIFT_KEY)
    renamed = with_edge_vectors_(
        renamed,
        edge_index_field="other_index",
        edge_cell_shift_field="other_shift",
        edge_vec_field="other_vectors",
        edge_len_field="other_lengths",
    )
    torch.testing.assert_close(renamed["other_vectors"], standard[keys.EDGE_VECTORS_KEY], rtol=0, atol=0)
    torch.testing.assert_close(renamed["other_lengths"], standard[keys.EDGE_LENGTH_KEY], rtol=0, atol=0)
    assert keys.EDGE_VECTORS_KEY not in renamed
    # r_ij = pos_j - pos_i + shift @ cell
    i, j = data[keys.EDGE_INDEX_KEY]
    expected = (
        data[keys.POSITIONS_KEY][j]
        - data[keys.POSITIONS_KEY][i]
        + data[keys.EDGE_CELL_SHIFT_KEY] @ data[keys.CELL_KEY].view(3, 3)
    )
    torch.testing.assert_close(standard[keys.EDGE_VECTORS_KEY], expected, rtol=0, atol=1e-12)


def test_with_edge_type_gives_center_and_neighbor_types():
    data = random_bulk(TYPES, 3.0, num_atoms=5)
    data[keys.ATOM_TYPE_KEY] = torch.tensor([0, 1, 1, 0, 1])
    edge_types = with_edge_type_(dict(data), "pair_types")["pair_types"]
    assert torch.equal(edge_types, data[keys.ATOM_TYPE_KEY][data[keys.EDGE_INDEX_KEY]])
    present = {"pair_types": torch.zeros(2, 1, dtype=torch.long)}
    assert with_edge_type_({**data, **present}, "pair_types")["pair_types"] is present["pair_types"]
    flat = {keys.EDGE_TYPE_KEY: torch.zeros(data[keys.EDGE_INDEX_KEY].shape[1], dtype=torch.long)}
    with pytest.raises(ValueError, match=r"with_edge_type_: data\['edge_type_flat'\] has shape \(\d+,\)"):
        with_edge_type_({**data, **flat})


def test_avg_num_neighbors_norm_scales_by_the_sending_type():
    norm = AvgNumNeighborsNorm(TYPES, {"H": 4.0, "O": 25.0})
    data = {keys.NODE_FEATURES_KEY: torch.ones(3, 2), keys.ATOM_TYPE_KEY: torch.tensor([1, 0, 1])}
    torch.testing.assert_close(norm(data)[keys.NODE_FEATURES_KEY], torch.tensor([[0.2] * 2, [0.5] * 2, [0.2] * 2]))
    one = AvgNumNeighborsNorm(None, 16.0)
    assert one.factors(torch.tensor([0, 1])).shape == (1, 1) and float(one.norm_const) == 0.25
    with pytest.raises(ValueError, match="missing \\['O'\\]"):
        AvgNumNeighborsNorm(TYPES, {"H": 4.0})


def test_field_modules():
    irreps = {keys.NODE_ATTRS_KEY: "2x0e", keys.NODE_FEATURES_KEY: "1x1o"}
    data = {keys.NODE_ATTRS_KEY: torch.randn(3, 2), keys.NODE_FEATURES_KEY: torch.randn(3, 3, requires_grad=True)}
    cat = Concat([keys.NODE_ATTRS_KEY, keys.NODE_FEATURES_KEY], "joined", irreps_in=irreps)
    half = ApplyFactor("joined", 0.5, out_field="half", irreps_in=cat.irreps_out)
    save = SaveForOutput("half", "saved", irreps_in=half.irreps_out)
    network = SequentialGraphNetwork({"join": cat, "scale": half, "keep": save})
    assert str(network.irreps_out["half"]) == "2x0e+1x1o"
    out = network(dict(data))
    expected = 0.5 * torch.cat([data[keys.NODE_ATTRS_KEY], data[keys.NODE_FEATURES_KEY]], dim=-1)
    torch.testing.assert_close(out["saved"], expected)
    assert out["half"].requires_grad and not out["saved"].requires_grad
    with pytest.raises(ValueError, match="requires fields \\['missing'\\]"):
        ApplyFactor("missing", 2.0, irreps_in=irreps)


def test_atomwise_operation_and_insert():
    linear = o3.Linear("2x0e", "3x0e")
    op = AtomwiseOperation(linear, keys.NODE_FEATURES_KEY, irreps_in={keys.NODE_FEATURES_KEY: "2x0e"})
    x = torch.randn(4, 2)
    torch.testing.assert_close(op({keys.NODE_FEATURES_KEY: x})[keys.NODE_FEATURES_KEY], linear(x))
    with pytest.raises(ValueError, match="has irreps 1x1o, but this module needs 2x0e"):
        AtomwiseOperation(linear, keys.NODE_FEATURES_KEY, irreps_in={keys.NODE_FEATURES_KEY: "1x1o"})
    network = SequentialGraphNetwork({"op": op})
    network.insert("twice", ApplyFactor(keys.NODE_FEATURES_KEY, 2.0, irreps_in=op.irreps_out), after="op")
    network.insert("thrice", ApplyFactor(keys.NODE_FEATURES_KEY, 3.0, irreps_in=op.irreps_in), before="op")
    assert list(network._modules) == ["thrice", "op", "twice"]
    torch.testing.assert_close(network({keys.NODE_FEATURES_KEY: x})[keys.NODE_FEATURES_KEY], 6 * linear(x))
    with pytest.raises(ValueError, match="exactly one of after, before"):
        network.insert("x", ApplyFactor(keys.NODE_FEATURES_KEY, 1.0, irreps_in=op.irreps_out))
    with pytest.raises(ValueError, match="no module named 'nope'"):
        network.insert("x", ApplyFactor(keys.NODE_FEATURES_KEY, 1.0, irreps_in=op.irreps_out), after="nope")


def test_partial_forces_sum_to_the_forces():
    """partial_forces[i, j] = -dE_i/dr_j: summed over i, the forces of ForceStressOutput."""
    model = small_nequip_model(TYPES, r_max=3.0, num_layers=2, l_max=1, num_features=4, model_dtype="float64")
    energy = model.model.func
    data = AtomicDataDict.with_batch_(random_bulk(TYPES, 3.0, num_atoms=4))
    partial = PartialForceOutput(energy)
    assert partial.irreps_out[keys.PARTIAL_FORCE_KEY] == o3.Irreps("1o")
    out = partial(dict(data))
    forces = ForceStressOutput(energy)(dict(data))[keys.FORCE_KEY]
    assert out[keys.PARTIAL_FORCE_KEY].shape == (4, 4, 3)
    torch.testing.assert_close(out[keys.FORCE_KEY], forces, rtol=0, atol=1e-10)
    # one entry by finite differences: -(E_0(r_1 + h) - E_0(r_1 - h)) / 2h
    h = 1e-5
    shifted = []
    for sign in (1, -1):
        moved = dict(data)
        moved[keys.POSITIONS_KEY] = data[keys.POSITIONS_KEY].clone()
        moved[keys.POSITIONS_KEY][1, 2] += sign * h
        shifted.append(energy(moved)[keys.PER_ATOM_ENERGY_KEY][0, 0])
    expected = -(shifted[0] - shifted[1]) / (2 * h)
    torch.testing.assert_close(out[keys.PARTIAL_FORCE_KEY][0, 1, 2], expected.detach(), rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="writes 'atomic_energy'"):
        PartialForceOutput(ApplyFactor(keys.NODE_FEATURES_KEY, 1.0, irreps_in={keys.NODE_FEATURES_KEY: "0e"}))
