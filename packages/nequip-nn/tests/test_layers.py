"""Interaction block and convnet layer: equivariance, agreement with the reference kernel, compile."""

import pytest
import torch

from nequip.data import keys
from nequip.nn.convnet import ConvNetLayer, tp_path_exists
from nequip.nn.graph_module import SequentialGraphNetwork
from nequip.nn.interaction import InteractionBlock
from nequip.nn.kernels import ReferenceTensorProductScatter
from nequip.nn.neighbor_norm import avg_num_neighbors_factors
from nequip.nn.node_embedding import NodeTypeEmbed
from nequip.nn.radial import BesselEdgeLengthEncoding, EdgeLengthNormalizer
from nequip.nn.spherical_harmonics import SphericalHarmonicEdgeAttrs
from nequip.nn.testkit import check_module_equivariance, random_bulk

TYPES = ["H", "O"]
R_MAX = 3.0


def _embedded(l_max, dtype=torch.float64):
    """(irreps, data) after type embedding, spherical harmonics and radial basis."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        torch.manual_seed(0)
        embed = [NodeTypeEmbed(TYPES, 6)]
        embed.append(SphericalHarmonicEdgeAttrs(l_max, irreps_in=embed[-1].irreps_out))
        embed.append(EdgeLengthNormalizer(R_MAX, TYPES, irreps_in=embed[-1].irreps_out))
        embed.append(BesselEdgeLengthEncoding(R_MAX, 6, irreps_in=embed[-1].irreps_out))
        seq = SequentialGraphNetwork(embed)
    finally:
        torch.set_default_dtype(previous)
    data = seq(random_bulk(TYPES, R_MAX, num_atoms=4))
    return seq.irreps_out, {k: v.detach() for k, v in data.items()}


def _build(cls, dtype=torch.float64, **kwargs):
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        torch.manual_seed(1)
        return cls(**kwargs)
    finally:
        torch.set_default_dtype(previous)


@pytest.mark.parametrize("l_max,parity", [(0, False), (1, True), (2, False)])
def test_convnet_equivariance_and_reference(l_max, parity):
    irreps, data = _embedded(l_max)
    hidden = "4x0e+4x1o+4x2e" if not parity else "4x0e+4x0o+4x1o+4x1e"
    conv = dict(avg_num_neighbors={"H": 3.0, "O": 5.0}, type_names=TYPES)
    fast = _build(ConvNetLayer, irreps_in=irreps, feature_irreps_hidden=hidden, convolution_kwargs=conv)
    ref = _build(
        ConvNetLayer,
        irreps_in=irreps,
        feature_irreps_hidden=hidden,
        convolution_kwargs=dict(conv, tp_scatter=ReferenceTensorProductScatter),
    )
    result = ref.load_state_dict(fast.state_dict(), strict=False)
    assert not result.unexpected_keys and all("tp_scatter.tp." in k for k in result.missing_keys)
    torch.testing.assert_close(
        fast(dict(data))[keys.NODE_FEATURES_KEY], ref(dict(data))[keys.NODE_FEATURES_KEY], rtol=0, atol=1e-10
    )
    for proper in (True, False):
        check_module_equivariance(fast, data, proper=proper)
    # a second layer takes the first one's output (with self-connection and resnet)
    out = fast(dict(data))
    second = _build(
        ConvNetLayer,
        irreps_in=fast.irreps_out,
        feature_irreps_hidden=fast.irreps_out[keys.NODE_FEATURES_KEY],
        convolution_kwargs={"avg_num_neighbors": 4.0},
        resnet=True,
    )
    assert second.resnet
    check_module_equivariance(second, {k: v.detach() for k, v in out.items()})


def test_interaction_block_normalization_follows_upstream():
    """Per-type 1/sqrt(avg_num_neighbors) scales the features each atom sends (as upstream)."""
    irreps, data = _embedded(1)
    kwargs = dict(irreps_in=irreps, irreps_out="4x0e+4x1o", use_sc=False, type_names=TYPES)
    one = _build(InteractionBlock, avg_num_neighbors=1.0, **kwargs)
    per_type = _build(InteractionBlock, avg_num_neighbors={"H": 4.0, "O": 9.0}, **kwargs)
    per_type.load_state_dict(one.state_dict())
    scale = torch.tensor([0.5, 1.0 / 3.0], dtype=torch.float64)[data[keys.ATOM_TYPE_KEY]].view(-1, 1)
    scaled = dict(data)
    # linear_1 commutes with a per-atom factor: scaling the input features is the same thing
    scaled[keys.NODE_FEATURES_KEY] = data[keys.NODE_FEATURES_KEY] * scale
    torch.testing.assert_close(
        per_type(dict(data))[keys.NODE_FEATURES_KEY], one(scaled)[keys.NODE_FEATURES_KEY], rtol=0, atol=1e-12
    )


def test_no_self_connection_means_zero_for_isolated_atoms():
    irreps, data = _embedded(1)
    block = _build(InteractionBlock, irreps_in=irreps, irreps_out="4x0e+4x1o", use_sc=False, avg_num_neighbors=3.0)
    lonely = dict(data)
    lonely[keys.EDGE_INDEX_KEY] = data[keys.EDGE_INDEX_KEY][:, :0]
    for field in (keys.EDGE_ATTRS_KEY, keys.EDGE_EMBEDDING_KEY):
        lonely[field] = data[field][:0]
    assert bool((block(dict(lonely))[keys.NODE_FEATURES_KEY] == 0).all())
    with_sc = _build(InteractionBlock, irreps_in=irreps, irreps_out="4x0e+4x1o", use_sc=True, avg_num_neighbors=3.0)
    assert not bool((with_sc(dict(lonely))[keys.NODE_FEATURES_KEY] == 0).all())


@pytest.mark.parametrize("embedding_dim,per_type", [(6, True), (1, False)])
def test_self_connection_per_type_is_the_same_block(embedding_dim, per_type):
    """node_attrs_per_type computes the self-connection per type (when T <= D), same numbers."""
    irreps, data = _embedded(1)
    embed = _build(NodeTypeEmbed, type_names=TYPES, num_features=embedding_dim, set_features=False)
    data = embed(dict(data))
    irreps = dict(irreps, **embed.irreps_out)
    kwargs = dict(irreps_in=irreps, irreps_out="4x0e+4x1o", avg_num_neighbors=3.0, type_names=TYPES)
    general = _build(InteractionBlock, **kwargs)
    fast = _build(InteractionBlock, node_attrs_per_type=True, **kwargs)
    fast.load_state_dict(general.state_dict())
    assert not general.sc_per_type and fast.sc_per_type == per_type
    torch.testing.assert_close(
        fast(dict(data))[keys.NODE_FEATURES_KEY], general(dict(data))[keys.NODE_FEATURES_KEY], rtol=0, atol=1e-12
    )
    with pytest.raises(ValueError, match="node_attrs_per_type=True needs type_names"):
        InteractionBlock(irreps_in=irreps, irreps_out="4x0e", avg_num_neighbors=3.0, node_attrs_per_type=True)


def test_argument_validation():
    irreps, _ = _embedded(1)
    base = dict(irreps_in=irreps, irreps_out="4x0e")
    with pytest.raises(ValueError, match="avg_num_neighbors must be a positive number"):
        InteractionBlock(**base, avg_num_neighbors=None)
    with pytest.raises(ValueError, match="lists are not accepted"):
        InteractionBlock(**base, avg_num_neighbors=[3.0, 4.0], type_names=TYPES)
    with pytest.raises(ValueError, match=r"missing \['O'\], unknown \['C'\]"):
        InteractionBlock(**base, avg_num_neighbors={"H": 3.0, "C": 4.0}, type_names=TYPES)
    with pytest.raises(ValueError, match="positive"):
        avg_num_neighbors_factors(-1.0, None)
    with pytest.raises(ValueError, match="requires fields"):
        InteractionBlock(irreps_in={keys.NODE_FEATURES_KEY: "4x0e"}, irreps_out="4x0e", avg_num_neighbors=1.0)
    with pytest.raises(ValueError, match="nonlinearity_scalars\\['e'\\]='relu'"):
        ConvNetLayer(irreps, "4x0e", nonlinearity_scalars={"e": "relu", "o": "tanh"})
    with pytest.raises(ValueError, match="nonlinearity_type='softmax'"):
        ConvNetLayer(irreps, "4x0e", nonlinearity_type="softmax")
    with pytest.raises(ValueError, match="no irrep reachable"):
        ConvNetLayer(irreps, "4x3e", convolution_kwargs={"avg_num_neighbors": 1.0})
    assert tp_path_exists("1x1o", "1x1o", "0e") and not tp_path_exists("1x0e", "1x1o", "0e")


def test_norm_nonlinearity_is_equivariant():
    irreps, data = _embedded(1)
    layer = _build(
        ConvNetLayer,
        irreps_in=irreps,
        feature_irreps_hidden="4x0e+4x1o",
        convolution_kwargs={"avg_num_neighbors": 3.0},
        nonlinearity_type="norm",
    )
    check_module_equivariance(layer, data, proper=False)


def test_convnet_compiles():
    """torch.compile smoke test (aot_eager: dynamo + autograd tracing, no C++ toolchain needed)."""
    irreps, data = _embedded(1, torch.float32)
    data = {k: (v.float() if v.is_floating_point() else v) for k, v in data.items()}
    layer = _build(
        ConvNetLayer,
        dtype=torch.float32,
        irreps_in=irreps,
        feature_irreps_hidden="4x0e+4x1o",
        convolution_kwargs={"avg_num_neighbors": 3.0},
    )
    compiled = torch.compile(layer, backend="aot_eager")
    torch.testing.assert_close(
        compiled(dict(data))[keys.NODE_FEATURES_KEY], layer(dict(data))[keys.NODE_FEATURES_KEY], rtol=1e-5, atol=1e-5
    )
