"""A stored config's nested ``_target_`` may name a function annotated to return a graph module.

Extension packages build submodules with factory functions (Allegro's
``allegro.nn.TwoBodyBesselScalarEmbed`` is annotated ``-> SequentialGraphNetwork``); a
checkpoint of such a model must reload, while a nested target that declares no graph module
(``os.system``, an unannotated function, one returning a plain ``torch.nn.Module``) is refused.
"""

import sys
import types

import pytest
import torch

from nequip.model.sources import check_stored_model_config
from nequip.nn import SequentialGraphNetwork

TOP = "nequip.model.NequIPGNNModel"


def _factory_module(monkeypatch) -> str:
    module = types.ModuleType("fake_extension_factories")

    def annotated_factory(type_names) -> SequentialGraphNetwork:
        raise AssertionError("the check must not call the factory")

    def unannotated_factory(type_names):
        raise AssertionError("the check must not call the factory")

    def plain_module_factory(type_names) -> torch.nn.Module:
        raise AssertionError("the check must not call the factory")

    for function in (annotated_factory, unannotated_factory, plain_module_factory):
        function.__module__ = module.__name__
        setattr(module, function.__name__, function)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module.__name__


def test_nested_factory_annotated_to_return_a_graph_module_is_allowed(monkeypatch):
    name = _factory_module(monkeypatch)
    check_stored_model_config({"_target_": TOP, "embed": {"_target_": f"{name}.annotated_factory"}}, "model.ckpt")


@pytest.mark.parametrize("target", ["unannotated_factory", "plain_module_factory"])
def test_nested_factory_without_a_graph_module_annotation_is_refused(monkeypatch, target):
    name = _factory_module(monkeypatch)
    config = {"_target_": TOP, "embed": {"_target_": f"{name}.{target}"}}
    with pytest.raises(ValueError, match=rf"config\.embed\._target_ '{name}\.{target}' is not a graph module class"):
        check_stored_model_config(config, "model.ckpt")


def test_nested_non_function_target_is_refused():
    with pytest.raises(ValueError, match="'os.system' is not a graph module class"):
        check_stored_model_config({"_target_": TOP, "embed": {"_target_": "os.system"}}, "model.ckpt")
