"""modify and modify_PerTypeScaleShift; model sources in configs; the config a fine-tuned model records."""

import doctest

import pytest
import torch

import nequip.model.modifiers as modifiers_module
import nequip.model.sources as sources_module
from nequip.data import keys
from nequip.model import ModelFromCheckpoint, NequIPGNNModel, model_from_config, modify, save_model_checkpoint
from nequip.nn.scale_shift import PerTypeScaleShift
from nequip.nn.testkit import evaluate, random_bulk, random_cluster


def _scale_shift(model) -> PerTypeScaleShift:
    (module,) = [m for m in model.modules() if isinstance(m, PerTypeScaleShift)]
    return module


def _values(tensor):
    return tensor.detach().view(-1).tolist()


def test_docstring_examples():
    for module in (modifiers_module, sources_module):
        assert doctest.testmod(module, raise_on_error=True).attempted > 0


def test_new_shifts_for_some_types_keep_the_others(tiny_kwargs):
    model = NequIPGNNModel(**tiny_kwargs)  # scales 1.3 (one number), shifts {H: -1.5, O: -4.0}
    modify(model, [{"modifier": "modify_PerTypeScaleShift", "shifts": {"O": -7.0}, "shifts_trainable": True}])
    module = _scale_shift(model)
    assert _values(module.shifts) == [-1.5, -7.0] and module.shifts.requires_grad
    assert _values(module.scales) == [1.3] and not module.scales.requires_grad
    assert module.shifts.dtype == torch.float64


def test_shift_change_moves_the_energy_by_the_composition(tiny_kwargs):
    model = NequIPGNNModel(**tiny_kwargs)
    data = random_cluster(["H", "O"], 3.0, num_atoms=6, seed=2)
    before = evaluate(model, data)
    modify(model, [{"modifier": "modify_PerTypeScaleShift", "shifts": {"H": -1.0, "O": -3.0}}])
    after = evaluate(model, data)
    counts = torch.bincount(data[keys.ATOM_TYPE_KEY], minlength=2).to(torch.float64)
    expected = before[keys.TOTAL_ENERGY_KEY] + counts @ torch.tensor([0.5, 1.0], dtype=torch.float64)
    torch.testing.assert_close(after[keys.TOTAL_ENERGY_KEY].view(-1), expected.view(-1), rtol=0, atol=1e-12)
    torch.testing.assert_close(after[keys.FORCE_KEY], before[keys.FORCE_KEY], rtol=0, atol=1e-12)


def test_one_number_and_model_without_scales(tiny_kwargs):
    with pytest.warns(UserWarning, match="per_type_energy_scales=None"):
        model = NequIPGNNModel(**{**tiny_kwargs, "per_type_energy_scales": None})
    modify(model, [{"modifier": "modify_PerTypeScaleShift", "scales": {"H": 2.0}, "shifts": 0.25}])
    module = _scale_shift(model)
    assert _values(module.scales) == [2.0, 1.0]  # a type without a scale keeps the identity
    assert _values(module.shifts) == [0.25]


def test_unknown_type_names_say_what_to_do(tiny_kwargs):
    model = NequIPGNNModel(**tiny_kwargs)
    with pytest.raises(ValueError, match=r"shifts has type names \['C'\] that the model does not have.*train a new"):
        modify(model, [{"modifier": "modify_PerTypeScaleShift", "shifts": {"H": 0.0, "C": -1.0}}])
    with pytest.raises(ValueError, match="must be a number or a dict"):
        modify(model, [{"modifier": "modify_PerTypeScaleShift", "scales": [1.0, 2.0]}])


def test_malformed_modifier_lists_and_unknown_names(tiny_kwargs):
    model = NequIPGNNModel(**tiny_kwargs)
    with pytest.raises(ValueError, match=r"its modifiers are \['modify_PerTypeScaleShift'"):
        modify(model, [{"modifier": "enable_FastKernel"}])
    with pytest.raises(ValueError, match="must be a list of dicts"):
        modify(model, {"modifier": "modify_PerTypeScaleShift"})
    with pytest.raises(ValueError, match=r"modifiers\[0\] must be a dict with the modifier's name"):
        modify(model, [{"shifts": 1.0}])


def test_modify_config_records_persistent_modifiers_and_rebuilds(tiny_kwargs):
    inner = {"_target_": "nequip.model.NequIPGNNModel", **tiny_kwargs}
    entry = {"modifier": "modify_PerTypeScaleShift", "shifts": {"O": -9.0}}
    config = {"_target_": "nequip.model.modify", "model": inner, "modifiers": [entry]}
    model = model_from_config(config)
    assert model.model_config["_target_"] == "nequip.model.modify"
    assert model.model_config["modifiers"] == [entry]
    assert model.model_config["model"] == NequIPGNNModel(**tiny_kwargs).model_config
    rebuilt = model_from_config(model.model_config)
    data = random_bulk(["H", "O"], 3.0, num_atoms=4)
    torch.testing.assert_close(
        evaluate(rebuilt, data)[keys.TOTAL_ENERGY_KEY], evaluate(model, data)[keys.TOTAL_ENERGY_KEY]
    )


def test_model_sources_in_configs(tmp_path, tiny_kwargs):
    with pytest.raises(ValueError, match="is not a model builder .* a model loader"):
        model_from_config({"_target_": "torch.nn.Linear", "in_features": 1, "out_features": 1})
    trained = NequIPGNNModel(**tiny_kwargs)
    path = tmp_path / "pretrained.ckpt"
    save_model_checkpoint(str(path), trained)
    loaded = model_from_config({"_target_": "nequip.model.ModelFromCheckpoint", "checkpoint_path": str(path)})
    # the loaded model records the stored builder config, not the loader
    assert loaded.model_config == trained.model_config


def test_fine_tuned_checkpoint_reloads_without_the_pretrained_file(tmp_path, tiny_kwargs):
    pretrained = NequIPGNNModel(**tiny_kwargs)
    with torch.no_grad():
        for p in pretrained.parameters():
            p.add_(0.1 * torch.randn_like(p))
    first = tmp_path / "pretrained.ckpt"
    save_model_checkpoint(str(first), pretrained)
    config = {
        "_target_": "nequip.model.modify",
        "model": {"_target_": "nequip.model.ModelFromCheckpoint", "checkpoint_path": str(first)},
        "modifiers": [{"modifier": "modify_PerTypeScaleShift", "shifts": {"H": -2.0}, "shifts_trainable": True}],
    }
    fine_tuned = model_from_config(config)
    with torch.no_grad():  # "training"
        for p in fine_tuned.parameters():
            p.add_(0.05 * torch.randn_like(p))
    second = tmp_path / "fine_tuned.ckpt"
    save_model_checkpoint(str(second), fine_tuned)
    first.unlink()
    reloaded = ModelFromCheckpoint(str(second))
    assert reloaded.model_config["model"]["_target_"] == "nequip.model.NequIPGNNModel"
    assert _scale_shift(reloaded).shifts.requires_grad  # the persistent modifier was replayed
    data = random_bulk(["H", "O"], 3.0, num_atoms=5, seed=1)
    expected, got = evaluate(fine_tuned, data), evaluate(reloaded, data)
    for field in (keys.TOTAL_ENERGY_KEY, keys.FORCE_KEY):
        assert torch.equal(got[field], expected[field]), field


def test_stored_configs_may_not_name_loaders(tmp_path, tiny_kwargs):
    from nequip.model import CHECKPOINT_KEY, model_checkpoint_payload

    payload = model_checkpoint_payload(NequIPGNNModel(**tiny_kwargs))
    payload["config"] = {"_target_": "nequip.model.ModelFromCheckpoint", "checkpoint_path": "elsewhere.ckpt"}
    path = tmp_path / "loader.ckpt"
    torch.save({CHECKPOINT_KEY: payload}, path)
    with pytest.raises(ValueError, match="is not a model builder or nequip.model.modify"):
        ModelFromCheckpoint(str(path))
