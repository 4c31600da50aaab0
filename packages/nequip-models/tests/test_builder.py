"""model_builder: seeding, RNG isolation, dtype, nesting, recorded config, hydra-style instantiation."""

import doctest
import warnings

import pytest
import torch

import nequip.model.builder as builder_module
import nequip.model.nequip_gnn as nequip_gnn_module
from nequip.data import keys
from nequip.data.instantiation import instantiate
from nequip.model import (
    CompileGraphModel,
    FullNequIPGNNModel,
    NequIPGNNModel,
    PresetNequIPGNNModel,
    model_builder,
    model_from_config,
    override_model_compile_mode,
)
from nequip.nn.graph_module import GraphModel, SequentialGraphNetwork
from nequip.nn.node_embedding import NodeTypeEmbed
from nequip.nn.testkit import random_cluster


def _weights(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_same_seed_same_weights_different_seed_different_weights(tiny_kwargs):
    a, b = NequIPGNNModel(**tiny_kwargs), NequIPGNNModel(**tiny_kwargs)
    c = NequIPGNNModel(**{**tiny_kwargs, "seed": 1})
    wa, wb, wc = _weights(a), _weights(b), _weights(c)
    assert wa.keys() == wb.keys() == wc.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    learned = [name for name, p in a.named_parameters() if p.requires_grad]
    assert learned and all(not torch.equal(wa[k], wc[k]) for k in learned)


def test_builder_leaves_the_callers_rng_and_default_dtype_alone(tiny_kwargs):
    torch.manual_seed(1234)
    expected = torch.rand(5)
    torch.manual_seed(1234)
    NequIPGNNModel(**{**tiny_kwargs, "model_dtype": "float32"})
    assert torch.equal(torch.rand(5), expected)
    assert torch.get_default_dtype() == torch.float32
    # also after a failed build
    torch.manual_seed(1234)
    with pytest.raises(ValueError):
        NequIPGNNModel(**{**tiny_kwargs, "model_dtype": "float64", "num_features": [4]})
    assert torch.equal(torch.rand(5), expected)
    assert torch.get_default_dtype() == torch.float32


@pytest.mark.parametrize("model_dtype,dtype", [("float32", torch.float32), ("float64", torch.float64)])
def test_model_dtype_sets_weight_dtype_outputs_stay_float64(tiny_kwargs, model_dtype, dtype):
    model = NequIPGNNModel(**{**tiny_kwargs, "model_dtype": model_dtype})
    assert model.model_dtype == dtype and model.metadata["model_dtype"] == model_dtype
    assert model.model.func.type_embed.embedding.weight.dtype == dtype
    out = model(random_cluster(["H", "O"], 3.0, num_atoms=4))
    assert out[keys.TOTAL_ENERGY_KEY].dtype == out[keys.FORCE_KEY].dtype == torch.float64


def test_recorded_config_rebuilds_the_same_model_and_metadata(tiny_kwargs):
    cutoffs = {"H": {"H": 2.0, "O": 2.5}, "O": 3.0}
    model = NequIPGNNModel(**tiny_kwargs, per_edge_type_cutoff=cutoffs)
    config = model.model_config
    assert config["_target_"] == "nequip.model.NequIPGNNModel"
    assert config["seed"] == 0 and config["compile_mode"] == "eager" and config["num_layers"] == 2
    assert config["polynomial_cutoff_p"] == 6  # defaults are recorded too
    assert model.metadata["per_edge_type_cutoff"] == "2.0 2.5 3.0 3.0"
    assert model.metadata["type_names"] == "H O" and model.metadata["r_max"] == "3.0"
    rebuilt = model_from_config(config)
    assert type(rebuilt) is GraphModel
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), rebuilt.state_dict().values()))


def test_hydra_style_configs(tiny_kwargs):
    config = {"_target_": "nequip.model.NequIPGNNModel", **tiny_kwargs}
    expected = NequIPGNNModel(**tiny_kwargs).model_config
    assert instantiate(config).model_config == expected  # hydra-convention instantiation
    assert model_from_config(config).model_config == expected  # non-recursive, as a training module does
    with pytest.raises(ValueError, match="'torch.nn.Linear' is not a model builder"):
        model_from_config({"_target_": "torch.nn.Linear", "in_features": 1, "out_features": 1})
    with pytest.raises(ValueError, match="needs? .*_target_|with a _target_"):
        model_from_config(tiny_kwargs)


def test_nested_builders_share_seed_and_only_the_outer_wraps(tiny_kwargs):
    seen = {}

    @model_builder
    def Inner(type_names, r_max, width=3):
        seen["inner_dtype"] = torch.get_default_dtype()
        return NodeTypeEmbed(type_names, width)

    @model_builder
    def Outer(type_names, r_max):
        inner = Inner(r_max=r_max)  # type_names inherited
        assert not isinstance(inner, GraphModel)
        seen["inner"] = inner
        return SequentialGraphNetwork({"embed": inner})

    model = Outer(seed=3, model_dtype="float32", type_names=["A", "B"], r_max=2.0)
    assert isinstance(model, GraphModel) and seen["inner_dtype"] == torch.float32
    assert seen["inner"].type_names == ["A", "B"]
    with pytest.raises(ValueError, match="seed different"):

        @model_builder
        def Conflicting(type_names, r_max):
            return Inner(r_max=r_max, seed=99)

        Conflicting(seed=3, model_dtype="float32", type_names=["A"], r_max=2.0)


@pytest.mark.parametrize(
    "change,match",
    [
        ({"seed": None}, "seed"),
        ({"seed": -1}, "seed"),
        ({"model_dtype": "float16"}, "model_dtype='float16' is not allowed"),
        ({"compile_mode": "jit"}, "compile_mode='jit' is not allowed"),
        ({"type_names": "HO"}, "type_names"),
        ({"type_names": ["H", "H"]}, "unique"),
        ({"type_names": ["H-1", "O"]}, "alphanumeric"),
        ({"not_an_argument": 1}, "not_an_argument"),
    ],
)
def test_builder_argument_errors(tiny_kwargs, change, match):
    kwargs = {**tiny_kwargs, **change}
    if change.get("seed", 0) is None:
        del kwargs["seed"]
    with pytest.raises(ValueError, match=match):
        NequIPGNNModel(**kwargs)


def test_compile_mode_selects_wrapper_and_override_wins(tiny_kwargs):
    assert type(NequIPGNNModel(**tiny_kwargs, compile_mode="compile")) is CompileGraphModel
    with override_model_compile_mode("eager"):
        with override_model_compile_mode("compile"):  # the outermost override wins
            model = NequIPGNNModel(**tiny_kwargs, compile_mode="compile")
    assert type(model) is GraphModel
    with pytest.raises(ValueError, match="allowed"):
        with override_model_compile_mode("fast"):
            pass


def test_full_model_and_preset_builders(tiny_kwargs):
    full = FullNequIPGNNModel(
        seed=0,
        model_dtype="float64",
        type_names=["H", "O"],
        r_max=3.0,
        radial_mlp_depth=[1, 2],
        radial_mlp_width=[8, 4],
        feature_irreps_hidden=["4x0e+2x1o", "3x0e"],
        irreps_edge_sh=1,
        type_embed_num_features=5,
        avg_num_neighbors={"H": 2.0, "O": 4.0},
        per_type_energy_scales=1.0,
        per_type_energy_shifts=0.0,
    )
    assert str(full.model.func.layer1_convnet.irreps_out[keys.NODE_FEATURES_KEY]) == "3x0e"
    assert full.model.func.type_embed.embedding.weight.shape == (2, 5)
    del tiny_kwargs["num_layers"], tiny_kwargs["l_max"], tiny_kwargs["num_features"]
    preset = PresetNequIPGNNModel(preset="s", **tiny_kwargs, num_features=[8, 4], type_embed_num_features=4)
    convnet = preset.model.func.layer0_convnet
    assert preset.model_config["preset"] == "s" and len([n for n in preset.model.func._modules if "convnet" in n]) == 2
    assert str(convnet.irreps_out[keys.NODE_FEATURES_KEY]) == "8x0e+4x1o"  # parity False from the preset
    with pytest.raises(ValueError, match="preset='XXL' is not allowed"):
        PresetNequIPGNNModel(preset="XXL", **tiny_kwargs)
    with pytest.raises(ValueError, match="unknown arguments \\['num_layer'\\]"):
        PresetNequIPGNNModel(preset="S", num_layer=3, **tiny_kwargs)


def test_missing_scales_and_shifts_warn(tiny_kwargs):
    del tiny_kwargs["per_type_energy_scales"], tiny_kwargs["per_type_energy_shifts"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        NequIPGNNModel(**tiny_kwargs)
    messages = [str(w.message) for w in caught]
    assert any("per_type_energy_scales=None" in m for m in messages)
    assert any("per_type_energy_shifts=None" in m and "isolated-atom energies" in m for m in messages)


def test_docstring_examples():
    for module in (builder_module, nequip_gnn_module):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0
