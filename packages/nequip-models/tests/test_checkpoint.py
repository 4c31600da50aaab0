"""Checkpoints: round trip, EMA weights preferred, clear errors for files that are not checkpoints."""

import doctest

import pytest
import torch

import nequip.model.checkpoint as checkpoint_module
from nequip.data import keys
from nequip.model import (
    CHECKPOINT_KEY,
    CompileGraphModel,
    ModelFromCheckpoint,
    NequIPGNNModel,
    model_checkpoint_payload,
    read_model_checkpoint,
    save_model_checkpoint,
)
from nequip.nn.graph_module import GraphModel
from nequip.nn.testkit import evaluate, random_bulk


@pytest.fixture
def trained(tiny_kwargs):
    """A model whose weights differ from a fresh build with its config (as after training)."""
    model = NequIPGNNModel(**tiny_kwargs, per_type_energy_shifts_trainable=True)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def test_round_trip_gives_the_same_outputs(tmp_path, trained):
    path = tmp_path / "model.ckpt"
    # as a trainer would: other (plain) entries beside the model entry
    save_model_checkpoint(str(path), trained, extra={"epoch": 3, "optimizer_states": [{"lr": torch.tensor(0.1)}]})
    raw = torch.load(path, weights_only=True)
    assert raw["epoch"] == 3 and raw[CHECKPOINT_KEY]["config"]["_target_"] == "nequip.model.NequIPGNNModel"
    loaded = ModelFromCheckpoint(str(path))
    assert type(loaded) is GraphModel and loaded.model_config == trained.model_config
    data = random_bulk(["H", "O"], 3.0, num_atoms=4)
    expected, got = evaluate(trained, data), evaluate(loaded, data)
    for field, value in expected.items():
        assert torch.equal(got[field], value), field
    # a fresh build from the config differs: the weights did come from the file
    fresh = NequIPGNNModel(**{k: v for k, v in trained.model_config.items() if k != "_target_"})
    assert not torch.equal(evaluate(fresh, data)[keys.TOTAL_ENERGY_KEY], expected[keys.TOTAL_ENERGY_KEY])
    assert type(ModelFromCheckpoint(str(path), compile_mode="compile")) is CompileGraphModel


def test_ema_weights_are_preferred(tmp_path, trained):
    ema = {name: p.detach() * 0.5 for name, p in trained.named_parameters()}  # parameters only
    path = tmp_path / "ema.ckpt"
    save_model_checkpoint(str(path), trained, ema_state_dict=ema)
    loaded = ModelFromCheckpoint(str(path))
    for name, p in loaded.named_parameters():
        assert torch.equal(p, ema[name]), name
    for name, buffer in loaded.named_buffers():  # buffers from the plain state dict
        assert torch.equal(buffer, dict(trained.named_buffers())[name])
    data = random_bulk(["H", "O"], 3.0, num_atoms=4)
    assert not torch.equal(
        evaluate(loaded, data)[keys.TOTAL_ENERGY_KEY], evaluate(trained, data)[keys.TOTAL_ENERGY_KEY]
    )


def test_lightning_style_checkpoint_dict(tmp_path, trained):
    """A trainer puts the payload into its own checkpoint dict (e.g. in on_save_checkpoint)."""
    checkpoint = {"state_dict": {"whatever": torch.zeros(1)}, "pytorch-lightning_version": "2.6.0"}
    checkpoint[CHECKPOINT_KEY] = model_checkpoint_payload(trained)
    path = tmp_path / "lightning.ckpt"
    torch.save(checkpoint, path)
    assert read_model_checkpoint(str(path))["format_version"] == 1
    assert "ema_state_dict" not in read_model_checkpoint(str(path))


def _write(path, obj):
    torch.save(obj, path)
    return str(path)


class _Arbitrary:
    pass


def test_clear_errors_for_files_that_are_not_checkpoints(tmp_path, trained):
    payload = model_checkpoint_payload(trained)
    with pytest.raises(ValueError, match="is not a file"):
        ModelFromCheckpoint(str(tmp_path / "missing.ckpt"))
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match=r"cannot read .*weights_only=True"):
        ModelFromCheckpoint(str(text))
    with pytest.raises(ValueError, match=r"cannot read .*weights_only=True"):  # no unpickling of objects
        ModelFromCheckpoint(_write(tmp_path / "object.ckpt", {CHECKPOINT_KEY: payload, "obj": _Arbitrary()}))
    with pytest.raises(ValueError, match=r"not a nequip model checkpoint.*'nequip_model'.*found \['state_dict'\]"):
        ModelFromCheckpoint(_write(tmp_path / "plain.ckpt", {"state_dict": trained.state_dict()}))
    with pytest.raises(ValueError, match="format_version 99 is not supported"):
        ModelFromCheckpoint(_write(tmp_path / "v99.ckpt", {CHECKPOINT_KEY: {**payload, "format_version": 99}}))
    with pytest.raises(ValueError, match="is not a model builder"):
        bad = {**payload, "config": {"_target_": "os.system", "_args_": ["echo unsafe"]}}
        ModelFromCheckpoint(_write(tmp_path / "unsafe.ckpt", {CHECKPOINT_KEY: bad}))
    with pytest.raises(ValueError, match="is not a graph module class"):
        bad = {**payload, "config": {**payload["config"], "pair_potential": {"_target_": "os.system"}}}
        ModelFromCheckpoint(_write(tmp_path / "unsafe2.ckpt", {CHECKPOINT_KEY: bad}))
    with pytest.raises(ValueError, match="does not fit the rebuilt model"):
        bad = {**payload, "config": {**payload["config"], "num_features": 5}}
        ModelFromCheckpoint(_write(tmp_path / "mismatch.ckpt", {CHECKPOINT_KEY: bad}))
    with pytest.raises(ValueError, match="ema_state_dict lacks parameters"):
        ModelFromCheckpoint(_write(tmp_path / "ema.ckpt", {CHECKPOINT_KEY: {**payload, "ema_state_dict": {}}}))
    with pytest.raises(ValueError, match="compile_mode='fast' is not allowed"):
        ModelFromCheckpoint(_write(tmp_path / "ok.ckpt", {CHECKPOINT_KEY: payload}), compile_mode="fast")


def test_payload_needs_a_builder_model_with_a_plain_config(tiny_kwargs):
    with pytest.raises(ValueError, match="no model_config"):
        model_checkpoint_payload(torch.nn.Linear(2, 2))
    model = NequIPGNNModel(**tiny_kwargs)
    model.model_config = {**model.model_config, "pair_potential": torch.nn.Identity()}
    with pytest.raises(ValueError, match=r"config.pair_potential is a Identity, not plain data"):
        model_checkpoint_payload(model)
    with pytest.raises(ValueError, match="names the model does not have"):
        model_checkpoint_payload(NequIPGNNModel(**tiny_kwargs), ema_state_dict={"nope": torch.zeros(1)})


def test_docstring_example():
    result = doctest.testmod(checkpoint_module)
    assert result.attempted > 0 and result.failed == 0
