"""The graph-module contract: irreps checks, sequential chaining, GraphModel boundary."""

import ast
import doctest
from pathlib import Path

import pytest
import torch

import nequip.nn.graph_module as graph_module
from nequip.data import keys
from nequip.nn.graph_module import GraphModel, GraphModuleMixin, SequentialGraphNetwork


class _Writes(GraphModuleMixin, torch.nn.Module):
    """Writes ``field`` = 2 * positions with the declared irreps."""

    def __init__(self, field, irreps, irreps_in=None, reads=None):
        super().__init__()
        self.field = field
        self.scale = torch.nn.Parameter(torch.ones(()))
        self._init_irreps(irreps_in=irreps_in, my_irreps_in=reads or {}, irreps_out={field: irreps})

    def forward(self, data):
        data[self.field] = self.scale * data[keys.POSITIONS_KEY]
        return data


def test_init_irreps_fills_fixed_fields_and_merges_outputs():
    m = _Writes(keys.NODE_FEATURES_KEY, "1o")
    assert str(m.irreps_in[keys.POSITIONS_KEY]) == "1x1o"
    assert m.irreps_in[keys.EDGE_INDEX_KEY] is None
    assert m.irreps_in[keys.ATOM_TYPE_KEY] is None
    assert str(m.irreps_out[keys.NODE_FEATURES_KEY]) == "1x1o"
    assert keys.NODE_FEATURES_KEY not in m.irreps_in


def test_init_irreps_errors_name_field_and_irreps():
    with pytest.raises(ValueError, match=r"'node_features'.*2x0e.*1x1o"):
        _Writes(
            keys.EDGE_FEATURES_KEY,
            "0e",
            irreps_in={keys.NODE_FEATURES_KEY: "2x0e"},
            reads={keys.NODE_FEATURES_KEY: "1o"},
        )
    with pytest.raises(ValueError, match="'pos' must have irreps 1x1o"):
        _Writes(keys.NODE_FEATURES_KEY, "0e", irreps_in={keys.POSITIONS_KEY: "0e"})
    with pytest.raises(ValueError, match="not a valid irreps"):
        _Writes(keys.NODE_FEATURES_KEY, "banana")

    class Needs(GraphModuleMixin, torch.nn.Module):
        def __init__(self):
            super().__init__()
            self._init_irreps(required_irreps_in=[keys.EDGE_ATTRS_KEY])

    with pytest.raises(ValueError, match="requires fields \\['edge_attrs'\\]"):
        Needs()


def test_sequential_checks_each_module_against_previous():
    first = _Writes(keys.NODE_FEATURES_KEY, "1o")
    good = _Writes(keys.EDGE_FEATURES_KEY, "1o", irreps_in=first.irreps_out, reads={keys.NODE_FEATURES_KEY: "1o"})
    seq = SequentialGraphNetwork({"first": first, "second": good})
    assert set(seq.irreps_out) >= {keys.NODE_FEATURES_KEY, keys.EDGE_FEATURES_KEY}
    # a module built for other irreps of node_features cannot follow `first`
    bad = _Writes(keys.EDGE_FEATURES_KEY, "0e", irreps_in={keys.NODE_FEATURES_KEY: "3x0e"})
    with pytest.raises(ValueError, match=r"'second'.*'node_features'.*3x0e.*after 'first'.*1x1o"):
        SequentialGraphNetwork({"first": first, "second": bad})
    with pytest.raises(ValueError, match="at least one module"):
        SequentialGraphNetwork([])
    with pytest.raises(ValueError, match="not a GraphModuleMixin"):
        SequentialGraphNetwork([torch.nn.Linear(1, 1)])


def test_sequential_collects_external_inputs_and_append_checks():
    first = _Writes(keys.NODE_FEATURES_KEY, "1o")
    needs_charge = _Writes(keys.EDGE_FEATURES_KEY, "0e", irreps_in={keys.CHARGE_KEY: "0e"})
    seq = SequentialGraphNetwork([first, needs_charge])
    assert str(seq.irreps_in[keys.CHARGE_KEY]) == "1x0e"
    with pytest.raises(ValueError, match="'node_features'"):
        seq.append("bad", _Writes(keys.EDGE_ATTRS_KEY, "0e", irreps_in={keys.NODE_FEATURES_KEY: "0e"}))
    seq.append("ok", _Writes(keys.EDGE_ATTRS_KEY, "1o", irreps_in=seq.irreps_out))
    assert list(dict(seq.named_children())) == ["module0", "module1", "ok"]
    assert str(seq.irreps_out[keys.EDGE_ATTRS_KEY]) == "1x1o"


def test_graph_model_boundary_copies_inputs_and_casts():
    inner = _Writes(keys.FORCE_KEY, "1o")
    model = GraphModel(SequentialGraphNetwork([inner]), type_names=["H", "C"], r_max=4.0, model_dtype="float32")
    pos = torch.randn(3, 3, dtype=torch.float32)
    data = {keys.POSITIONS_KEY: pos, keys.DIPOLE_KEY: torch.zeros(1, 3)}
    out = model(data)
    assert keys.DIPOLE_KEY not in out  # not an input field: not copied
    assert keys.FORCE_KEY not in data  # caller's dict untouched
    assert out[keys.FORCE_KEY].dtype == torch.float64
    assert out[keys.POSITIONS_KEY].dtype == torch.float64
    assert model.metadata == {"model_dtype": "float32", "type_names": "H C", "num_types": "2", "r_max": "4.0"}
    assert model.model_dtype == torch.float32


def test_graph_model_validation():
    seq = SequentialGraphNetwork([_Writes(keys.FORCE_KEY, "1o")])
    with pytest.raises(ValueError, match="model_dtype='float16'"):
        GraphModel(seq, type_names=["H"], r_max=4.0, model_dtype="float16")
    with pytest.raises(ValueError, match="parameter 'module0.scale' has dtype torch.float16"):
        GraphModel(seq.to(torch.float16), type_names=["H"], r_max=4.0, model_dtype="float32")
    seq.to(torch.float32)
    with pytest.raises(ValueError, match="r_max must be positive"):
        GraphModel(seq, type_names=["H"], r_max=0.0, model_dtype="float32")
    with pytest.raises(ValueError, match="type_names"):
        GraphModel(seq, type_names=[], r_max=1.0, model_dtype="float32")
    needs_charge = SequentialGraphNetwork([_Writes(keys.FORCE_KEY, "1o", irreps_in={keys.CHARGE_KEY: "0e"})])
    with pytest.raises(ValueError, match="'charges'.*model_input_fields"):
        GraphModel(needs_charge, type_names=["H"], r_max=1.0, model_dtype="float32")
    model = GraphModel(
        needs_charge, type_names=["H"], r_max=1.0, model_dtype="float32", model_input_fields={keys.CHARGE_KEY: "0e"}
    )
    assert keys.CHARGE_KEY in model.model_input_fields


def test_graph_model_metadata_contributions_and_edge_cutoffs():
    class Contributes(_Writes):
        def _get_metadata_contributions(self):
            return {"extra": "1"}

    seq = SequentialGraphNetwork([Contributes(keys.FORCE_KEY, "1o"), Contributes(keys.STRESS_KEY, "1o")])
    model = GraphModel(seq, type_names=["H"], r_max=1.0, model_dtype="float32")
    with pytest.raises(ValueError, match="'extra' is contributed by both"):
        _ = model.metadata
    one = SequentialGraphNetwork([Contributes(keys.FORCE_KEY, "1o")])
    cut = {"H": {"H": 1.0, "O": 0.5}, "O": {"H": 0.5, "O": 0.75}}
    model = GraphModel(one, type_names=["H", "O"], r_max=1.0, model_dtype="float32", per_edge_type_cutoff=cut)
    assert model.metadata["extra"] == "1"
    assert model.metadata["per_edge_type_cutoff"] == "1.0 0.5 0.5 0.75"


def test_module_docstring_example_runs():
    result = doctest.testmod(graph_module)
    assert result.attempted > 0 and result.failed == 0


def test_nequip_nn_is_a_pkgutil_namespace_package():
    """nequip/nn/__init__.py starts by extending its path (nequip-potentials adds
    nequip.nn.pair_potential); nequip/ has no __init__.py (a PEP 420 namespace)."""
    src = Path(graph_module.__file__).parent
    first = ast.parse((src / "__init__.py").read_text()).body[0]
    expected = ast.parse('__path__ = __import__("pkgutil").extend_path(__path__, __name__)').body[0]
    assert ast.dump(first) == ast.dump(expected), ast.unparse(first)
    assert not (src.parent / "__init__.py").exists()


def test_upstream_names_import_from_nequip_nn():
    import nequip.nn

    assert nequip.nn.GraphModel is GraphModel and nequip.nn.SequentialGraphNetwork is SequentialGraphNetwork
    assert all(hasattr(nequip.nn, name) for name in nequip.nn.__all__)
