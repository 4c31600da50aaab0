"""``modify``: apply model modifiers to a built or loaded model, e.g. to refit its energy shifts for fine-tuning.

A model modifier is a class method of one of the model's module classes, marked with
:func:`nequip.nn.model_modifier_utils.model_modifier` (for instance
``PerTypeScaleShift.modify_PerTypeScaleShift``). A model offers the modifiers of every module
class it contains, by name; :func:`modify` applies a list of them in order. In a config::

    model:
      _target_: nequip.model.modify
      model:
        _target_: nequip.model.ModelFromCheckpoint
        checkpoint_path: pretrained/best.ckpt
      modifiers:
        - modifier: modify_PerTypeScaleShift
          shifts: ${training_data_stats:per_type_atom_energy_lstsq}

The model keeps a ``model_config`` from which it is rebuilt:
``{"_target_": "nequip.model.modify", "model": <the inner model's model_config>,
"modifiers": [<the persistent modifiers, with their arguments>]}``. Persistent modifiers
change what the model computes and are replayed when a checkpoint of it is loaded (before
its weights); the others only change how it computes (an accelerated kernel) and are not
recorded.
"""

from typing import Any, Dict, List, Mapping, Sequence, Union

import torch

from nequip.data.instantiation import to_plain
from nequip.nn.model_modifier_utils import find_model_modifiers, model_modifier_info

#: Key of a modifier entry that names the modifier; the other keys are its keyword arguments.
MODIFIER_NAME_KEY = "modifier"


def _checked_entries(modifiers: Any) -> List[Dict[str, Any]]:
    modifiers = to_plain(modifiers)
    if isinstance(modifiers, Mapping) or not isinstance(modifiers, Sequence) or isinstance(modifiers, str):
        raise ValueError(
            f"modifiers must be a list of dicts such as [{{'modifier': 'modify_PerTypeScaleShift', 'shifts': ...}}], "
            f"got {type(modifiers).__name__} {modifiers!r}"
        )
    entries = []
    for i, entry in enumerate(modifiers):
        if not isinstance(entry, Mapping) or not isinstance(entry.get(MODIFIER_NAME_KEY), str):
            raise ValueError(
                f"modifiers[{i}] must be a dict with the modifier's name under {MODIFIER_NAME_KEY!r} and its "
                f"arguments beside it, got {entry!r}"
            )
        entries.append(dict(entry))
    return entries


def _model_device_type(model: torch.nn.Module) -> str:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device.type
    return "cpu"


def _compile_mode(model: torch.nn.Module) -> str:
    from .torch_compile import CompileGraphModel

    return "compile" if isinstance(model, CompileGraphModel) else "eager"


def modify(model: Union[torch.nn.Module, Mapping[str, Any]], modifiers: Sequence[Mapping[str, Any]]) -> torch.nn.Module:
    """Apply model modifiers to a model, in order (see the module docstring).

    Args:
        model: a model (e.g. from :func:`~nequip.model.ModelFromCheckpoint`), or the config
            of one (a model builder, a model loader or ``modify``), built with
            :func:`~nequip.model.sources.model_from_config`.
        modifiers: ``[{"modifier": NAME, **arguments}, ...]``; ``NAME`` is a modifier of one
            of the model's module classes, ``arguments`` its keyword arguments.

    Returns:
        the modified model (changed in place), with ``model_config`` recording the
        persistent modifiers when the model had a ``model_config``.

    Raises:
        ValueError: for a malformed modifier list, a name that is not a modifier of the
            model (the available ones are listed), or a modifier that does not support the
            model's device or compile mode.

    Example:
        >>> from nequip.model import NequIPGNNModel
        >>> model = NequIPGNNModel(seed=0, model_dtype="float64", type_names=["H", "O"], r_max=3.0,
        ...                        num_layers=1, num_features=4, avg_num_neighbors=2.0,
        ...                        per_type_energy_scales=1.0, per_type_energy_shifts={"H": -0.5, "O": -2.0})
        >>> model = modify(model, [{"modifier": "modify_PerTypeScaleShift", "shifts": {"O": -4.0}}])
        >>> model.model.func.per_type_energy_scale_shift.shifts.view(-1).tolist()
        [-0.5, -4.0]
        >>> model.model_config["modifiers"]
        [{'modifier': 'modify_PerTypeScaleShift', 'shifts': {'O': -4.0}}]
    """
    entries = _checked_entries(modifiers)
    if not isinstance(model, torch.nn.Module):
        from .sources import model_from_config  # modify is itself a model source (see nequip.model.sources)

        model = model_from_config(model)
    inner_config = getattr(model, "model_config", None)
    available = find_model_modifiers(model)
    recorded = []
    for i, entry in enumerate(entries):
        arguments = dict(entry)
        name = arguments.pop(MODIFIER_NAME_KEY)
        if name not in available:
            public = sorted(n for n, m in available.items() if not model_modifier_info(m).private)
            raise ValueError(
                f"modifiers[{i}]: {name!r} is not a model modifier of this model; its modifiers are {public}"
            )
        modifier = available[name]
        info = model_modifier_info(modifier)
        device = _model_device_type(model)
        if device in info.unsupported_devices:
            raise ValueError(
                f"modifiers[{i}]: {name} does not run on device {device!r} (unsupported: {list(info.unsupported_devices)})"
            )
        mode = _compile_mode(model)
        if info.supported_compile_modes is not None and mode not in info.supported_compile_modes:
            raise ValueError(
                f"modifiers[{i}]: {name} does not support compile_mode {mode!r} "
                f"(supported: {list(info.supported_compile_modes)})"
            )
        result = modifier(model, **arguments)
        if result is not model:
            raise ValueError(f"modifiers[{i}]: {name} must change the model in place and return it")
        if info.persistent:
            recorded.append(entry)
    if isinstance(inner_config, dict) and "_target_" in inner_config:
        #: how to rebuild this model: the inner model's config, then the persistent modifiers
        model.model_config = {"_target_": "nequip.model.modify", "model": inner_config, "modifiers": recorded}
    return model
