"""nequip.nn.embedding and nequip.utils: upstream's signatures, shapes and numbers over our modules."""

import math

import torch

from nequip.data import keys
from nequip.nn.embedding import AddRadialCutoffToData, BesselEdgeLengthEncoding, EdgeLengthNormalizer, PolynomialCutoff
from nequip.utils import RankedLogger, torch_default_dtype
from nequip.utils.global_dtype import _GLOBAL_DTYPE


def _frame():
    pos = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 2.0, 0.0]], dtype=torch.float64)
    return {
        keys.POSITIONS_KEY: pos,
        keys.ATOM_TYPE_KEY: torch.tensor([0, 1, 1]),
        keys.EDGE_INDEX_KEY: torch.tensor([[0, 1, 0, 2], [1, 0, 2, 0]]),
    }


def test_edge_length_normalizer_writes_upstream_shapes():
    norm = EdgeLengthNormalizer(r_max=4.0, type_names=["A", "B"], per_edge_type_cutoff={"A": 2.0})
    out = norm(_frame())
    x, edge_type = out[keys.NORM_LENGTH_KEY], out[keys.EDGE_TYPE_KEY]
    assert x.shape == (4, 1) and edge_type.shape == (2, 4)
    assert edge_type.tolist() == [[0, 1, 0, 1], [1, 0, 1, 0]]
    # center A uses 2.0, center B the global 4.0
    assert torch.allclose(x.view(-1), torch.tensor([0.5, 0.25, 1.0, 0.5], dtype=torch.float64))


def test_edge_length_normalizer_renamed_field():
    norm = EdgeLengthNormalizer(r_max=4.0, type_names=["A", "B"], norm_length_field="x")
    out = norm(_frame())
    assert "x" in norm.irreps_out and keys.NORM_LENGTH_KEY not in out and out["x"].shape == (4, 1)


def test_bessel_encoding_has_upstreams_unit_prefactor():
    enc = BesselEdgeLengthEncoding(cutoff=PolynomialCutoff(6), num_bessels=3, irreps_in={keys.NORM_LENGTH_KEY: "0e"})
    x = torch.tensor([[0.3], [0.7]], dtype=torch.float64)
    out = enc({keys.NORM_LENGTH_KEY: x})
    n = torch.arange(1, 4, dtype=torch.float64)
    # w_n sinc(w_n x) u(x) = sin(n pi x) / (pi x) u(x), written out with math.sin
    expected = torch.tensor(
        [[math.sin(k * math.pi * float(xi)) / (math.pi * float(xi)) for k in n.tolist()] for xi in x.view(-1)],
        dtype=torch.float64,
    ) * PolynomialCutoff(6)(x)
    assert torch.allclose(
        out[keys.EDGE_EMBEDDING_KEY].double(), expected.to(out[keys.EDGE_EMBEDDING_KEY].dtype).double(), atol=1e-6
    )
    assert out[keys.EDGE_CUTOFF_KEY].shape == (2, 1)


def test_add_radial_cutoff_keeps_an_existing_cutoff():
    add = AddRadialCutoffToData(cutoff=PolynomialCutoff(6), irreps_in={keys.NORM_LENGTH_KEY: "0e"})
    x = torch.tensor([[0.5], [1.5]], dtype=torch.float64)
    out = add({keys.NORM_LENGTH_KEY: x})
    assert torch.allclose(out[keys.EDGE_CUTOFF_KEY].double(), PolynomialCutoff(6)(x), atol=1e-6)
    assert float(out[keys.EDGE_CUTOFF_KEY][1]) == 0.0
    existing = torch.ones(2, 1)
    assert add({keys.NORM_LENGTH_KEY: x, keys.EDGE_CUTOFF_KEY: existing})[keys.EDGE_CUTOFF_KEY] is existing


def test_utils_names():
    before = torch.get_default_dtype()
    with torch_default_dtype(torch.float64):
        assert torch.get_default_dtype() == torch.float64
    assert torch.get_default_dtype() == before
    assert _GLOBAL_DTYPE == torch.float64


def test_ranked_logger_rank_zero_only(caplog, monkeypatch):
    logger = RankedLogger("nequip.test_ranked", rank_zero_only=True)
    with caplog.at_level("INFO", logger="nequip.test_ranked"):
        logger.info("first")
        monkeypatch.setenv("RANK", "1")
        logger.info("second")
    assert [r.getMessage() for r in caplog.records] == ["[rank: 0] first"]
