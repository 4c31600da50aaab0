import pytest
import torch

from nequip.nn.model_modifier_utils import (
    ModelModifierInfo,
    find_model_modifiers,
    is_model_modifier,
    is_persistent_model_modifier,
    is_private_model_modifier,
    model_modifier,
    model_modifier_info,
    replace_submodules,
)


class Scale(torch.nn.Module):
    def __init__(self, factor: float):
        super().__init__()
        self.factor = factor

    def forward(self, x):
        return self.factor * x

    @model_modifier(persistent=True)
    @classmethod
    def double_scale(cls, model, by: float = 2.0):
        return replace_submodules(model, cls, lambda old: cls(old.factor * by))

    @model_modifier(persistent=False, private=True, unsupported_devices=["cpu"], supported_compile_modes=["eager"])
    @classmethod
    def fast_scale(cls, model):
        return model

    @classmethod
    def not_a_modifier(cls, model):
        return model


class OtherScale(torch.nn.Module):
    @model_modifier(persistent=False)
    @classmethod
    def double_scale(cls, model):
        return model


def test_info_is_recorded_on_the_classmethod():
    assert model_modifier_info(Scale.double_scale) == ModelModifierInfo(persistent=True)
    assert model_modifier_info(Scale.fast_scale) == ModelModifierInfo(
        persistent=False, private=True, unsupported_devices=("cpu",), supported_compile_modes=("eager",)
    )
    assert is_model_modifier(Scale.double_scale) and is_model_modifier(Scale(1.0).fast_scale)
    assert not is_model_modifier(Scale.not_a_modifier)
    assert model_modifier_info(Scale.not_a_modifier) is None
    assert is_persistent_model_modifier(Scale.double_scale)
    assert not is_persistent_model_modifier(Scale.fast_scale)
    assert is_private_model_modifier(Scale.fast_scale) and not is_private_model_modifier(Scale.double_scale)
    with pytest.raises(ValueError, match="not a model modifier"):
        is_persistent_model_modifier(Scale.not_a_modifier)


def test_decorator_rejects_misuse():
    with pytest.raises(TypeError, match="above @classmethod"):

        class Wrong(torch.nn.Module):
            @model_modifier(persistent=True)
            def modify(self, model):
                return model

    with pytest.raises(TypeError, match="persistent"):
        model_modifier(persistent="yes")

    method = classmethod(lambda cls, model: model)
    model_modifier(persistent=True)(method)
    with pytest.raises(ValueError, match="already marked"):
        model_modifier(persistent=False)(method)


def test_modifier_applies_through_find_model_modifiers():
    model = torch.nn.Sequential(Scale(3.0), torch.nn.Sequential(Scale(5.0), torch.nn.Identity()))
    modifiers = find_model_modifiers(model)
    assert set(modifiers) == {"double_scale", "fast_scale"}
    modified = modifiers["double_scale"](model, by=10.0)
    assert modified is model
    assert [m.factor for m in model.modules() if isinstance(m, Scale)] == [30.0, 50.0]
    assert torch.equal(model(torch.ones(2)), torch.full((2,), 1500.0))


def test_find_model_modifiers_rejects_name_clash():
    model = torch.nn.Sequential(Scale(1.0), OtherScale())
    with pytest.raises(ValueError, match="'double_scale' is defined by two classes.*Scale.*OtherScale"):
        find_model_modifiers(model)


def test_replace_submodules_in_lists_and_dicts():
    model = torch.nn.ModuleDict(
        {"a": torch.nn.ModuleList([torch.nn.ReLU(), torch.nn.Linear(1, 1)]), "b": torch.nn.ReLU()}
    )
    out = replace_submodules(model, torch.nn.ReLU, lambda old: torch.nn.Tanh())
    assert out is model
    assert isinstance(model["a"][0], torch.nn.Tanh) and isinstance(model["b"], torch.nn.Tanh)
    assert isinstance(model["a"][1], torch.nn.Linear)
    assert [name for name, _ in model.named_modules()] == ["", "a", "a.0", "a.1", "b"]


def test_replace_submodules_does_not_descend_into_replaced_modules():
    inner = torch.nn.Sequential(torch.nn.Sequential(torch.nn.ReLU()))
    model = torch.nn.Sequential(inner)
    seen = []

    def factory(old):
        seen.append(old)
        return torch.nn.Identity()

    replace_submodules(model, torch.nn.Sequential, factory)
    assert seen == [inner]
    assert isinstance(model[0], torch.nn.Identity)
