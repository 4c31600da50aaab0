"""Node and edge embeddings: one-hot/type embedding, spherical harmonics, radial basis, cutoffs."""

import doctest
import math

import pytest
import torch
from e3nn import o3

import nequip.nn.node_embedding as node_embedding
import nequip.nn.radial as radial
from nequip.data import keys
from nequip.nn.node_embedding import NodeTypeEmbed, OneHotAtomEncoding
from nequip.nn.radial import (
    BesselEdgeLengthEncoding,
    EdgeLengthNormalizer,
    PolynomialCutoff,
    per_edge_type_cutoff_dict,
    per_edge_type_cutoff_table,
)
from nequip.nn.spherical_harmonics import SphericalHarmonicEdgeAttrs
from nequip.nn.testkit import check_module_equivariance, random_bulk, random_cluster

TYPES = ["H", "O"]
NORM = {keys.NORM_LENGTH_KEY: "0e"}


def test_docstring_examples():
    for module in (node_embedding, radial):
        result = doctest.testmod(module, extraglobs={"keys": keys, "torch": torch})
        assert result.attempted > 0 and result.failed == 0


def test_one_hot_and_type_embedding():
    data = {keys.ATOM_TYPE_KEY: torch.tensor([1, 0, 1])}
    out = OneHotAtomEncoding(TYPES)(dict(data))
    assert out[keys.NODE_ATTRS_KEY].tolist() == [[0, 1], [1, 0], [0, 1]]
    assert torch.equal(out[keys.NODE_FEATURES_KEY], out[keys.NODE_ATTRS_KEY])
    assert OneHotAtomEncoding(TYPES).to(torch.float64)(dict(data))[keys.NODE_ATTRS_KEY].dtype == torch.float64
    embed = NodeTypeEmbed(TYPES, num_features=5, set_features=False)
    assert str(embed.irreps_out[keys.NODE_ATTRS_KEY]) == "5x0e" and keys.NODE_FEATURES_KEY not in embed.irreps_out
    attrs = embed(dict(data))[keys.NODE_ATTRS_KEY]
    assert torch.equal(attrs[0], attrs[2]) and not torch.equal(attrs[0], attrs[1])
    with pytest.raises(ValueError, match="unique"):
        OneHotAtomEncoding(["H", "H"])
    with pytest.raises(ValueError, match="num_features"):
        NodeTypeEmbed(TYPES, num_features=0)


def test_spherical_harmonics_match_e3nn_and_are_equivariant():
    data = random_cluster(TYPES, 3.0)
    sh = SphericalHarmonicEdgeAttrs(2)
    out = sh(dict(data))
    vec = (
        data[keys.POSITIONS_KEY][data[keys.EDGE_INDEX_KEY][1]] - data[keys.POSITIONS_KEY][data[keys.EDGE_INDEX_KEY][0]]
    )
    expected = o3.spherical_harmonics(o3.Irreps.spherical_harmonics(2), vec, True, "component")
    torch.testing.assert_close(out[keys.EDGE_ATTRS_KEY].double(), expected, rtol=1e-6, atol=1e-6)
    assert out[keys.EDGE_ATTRS_KEY].dtype == torch.float32  # built in the default (model) dtype
    # component normalization: each l block has mean square 1 over the sphere -> sum over m = 2l+1
    assert torch.allclose(out[keys.EDGE_ATTRS_KEY][:, 1:4].square().sum(-1), torch.full((vec.shape[0],), 3.0))
    for proper in (True, False):
        check_module_equivariance(sh.double(), data, proper=proper)
    with pytest.raises(ValueError, match="edge_sh_normalization='unit'"):
        SphericalHarmonicEdgeAttrs(1, edge_sh_normalization="unit")


def test_polynomial_cutoff_values_and_smoothness():
    cutoff = PolynomialCutoff(6)
    x = torch.tensor([0.0, 0.5, 1.0, 1.2], dtype=torch.float64, requires_grad=True)
    u = cutoff(x).detach()
    assert u[0] == 1.0 and u[2] == 0.0 and u[3] == 0.0
    assert math.isclose(float(u[1]), 1 - 28 * 0.5**6 + 48 * 0.5**7 - 21 * 0.5**8)
    # value, first and second derivative vanish at x = 1 (continuity of energy, forces, and their derivatives)
    near = torch.tensor([1.0 - 1e-3], dtype=torch.float64, requires_grad=True)
    (du,) = torch.autograd.grad(cutoff(near).sum(), near, create_graph=True)
    (d2u,) = torch.autograd.grad(du.sum(), near)
    # near x = 1: u ~ 56 d^3, u' ~ -168 d^2, u'' ~ 336 d with d = 1 - x = 1e-3
    assert abs(float(cutoff(near.detach()))) < 1e-7 and abs(float(du.detach())) < 1e-3 and abs(float(d2u)) < 1
    with pytest.raises(ValueError, match=r"polynomial_cutoff_p \(the cutoff exponent p\) must be >= 2"):
        PolynomialCutoff(1)


def test_bessel_encoding_matches_upstream_numbers():
    """Numbers from upstream NequIP 0.19.1 (BesselEdgeLengthEncoding x ApplyFactor(2 pi / r_max^2), r_max=4)."""
    upstream_embedding = [
        [0.38265083728943183, 0.7070465533400254, 0.9238008410375669, 0.9999148249626161],
        [0.32228935954333077, 0.33679145556922546, 0.029656744743700225, -0.30580024244376397],
        [0.08071225719642618, -0.08434407708023438, 0.007427061237001574, 0.07658281940745296],
        [8.008685740007384e-06, -1.596799526926937e-05, 2.3828856797799192e-05, -3.1542805500271346e-05],
    ]
    upstream_cutoff = [0.999914824962616, 0.9827737067106628, 0.5111724817594907, 0.000796182369839471]
    r = torch.tensor([0.5, 1.3, 2.7, 3.9], dtype=torch.float64)
    enc = BesselEdgeLengthEncoding(r_max=4.0, num_bessels=4, irreps_in=NORM).double()
    out = enc({keys.NORM_LENGTH_KEY: r / 4.0})
    torch.testing.assert_close(out[keys.EDGE_EMBEDDING_KEY], torch.tensor(upstream_embedding, dtype=torch.float64))
    torch.testing.assert_close(out[keys.EDGE_CUTOFF_KEY].view(-1), torch.tensor(upstream_cutoff, dtype=torch.float64))
    # the closed form (2 / r_max) sin(n pi r / r_max) / r times the envelope
    n = torch.arange(1, 5, dtype=torch.float64)
    closed = (
        (2 / 4.0)
        * torch.sin(n * math.pi * r.view(-1, 1) / 4.0)
        / r.view(-1, 1)
        * PolynomialCutoff(6)(r / 4.0).view(-1, 1)
    )
    torch.testing.assert_close(out[keys.EDGE_EMBEDDING_KEY], closed)
    # float32 model: float64 geometry in, float32 embedding out; trainable frequencies get gradients
    enc32 = BesselEdgeLengthEncoding(r_max=4.0, num_bessels=4, trainable=True, irreps_in=NORM)
    emb = enc32({keys.NORM_LENGTH_KEY: r / 4.0})[keys.EDGE_EMBEDDING_KEY]
    assert emb.dtype == torch.float32
    emb.sum().backward()
    assert enc32.bessel_weights.grad is not None
    with pytest.raises(ValueError, match="num_bessels"):
        BesselEdgeLengthEncoding(r_max=4.0, num_bessels=0, irreps_in=NORM)


def test_per_edge_type_cutoffs():
    table = per_edge_type_cutoff_table({"H": 2.0, "O": {"H": 2.0, "O": 3.5}}, TYPES, 4.0)
    assert table.tolist() == [[2.0, 2.0], [2.0, 3.5]]
    assert per_edge_type_cutoff_dict(table, TYPES) == {"H": {"H": 2.0, "O": 2.0}, "O": {"H": 2.0, "O": 3.5}}
    assert per_edge_type_cutoff_table({"O": {"O": 3.0}}, TYPES, 4.0).tolist() == [[4.0, 4.0], [4.0, 3.0]]
    with pytest.raises(ValueError, match=r"unknown types \['C', 'O->N'\]"):
        per_edge_type_cutoff_table({"C": 1.0, "O": {"N": 1.0}}, TYPES, 4.0)
    with pytest.raises(ValueError, match=r"\(0, r_max=4.0\]"):
        per_edge_type_cutoff_table({"H": 5.0}, TYPES, 4.0)

    data = random_bulk(TYPES, 4.0)
    norm = EdgeLengthNormalizer(4.0, TYPES, {"H": 2.0, "O": {"H": 2.0, "O": 3.5}})
    out = norm(dict(data))
    types = data[keys.ATOM_TYPE_KEY][data[keys.EDGE_INDEX_KEY]]
    assert torch.equal(out[keys.EDGE_TYPE_KEY], types[0] * 2 + types[1])
    torch.testing.assert_close(out[keys.NORM_LENGTH_KEY], out[keys.EDGE_LENGTH_KEY] / table[types[0], types[1]])
    plain = EdgeLengthNormalizer(4.0, TYPES)(dict(data))
    torch.testing.assert_close(plain[keys.NORM_LENGTH_KEY], plain[keys.EDGE_LENGTH_KEY] / 4.0)
    assert keys.EDGE_TYPE_KEY not in EdgeLengthNormalizer(4.0, TYPES).irreps_out
