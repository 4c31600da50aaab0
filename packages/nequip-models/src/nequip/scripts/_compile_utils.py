"""The registry of compile targets: named sets of input and output fields an exported model serves.

An extension package registers its targets when imported (Allegro registers
``pair_allegro``, the LAMMPS pair style's inputs and outputs)::

    register_compile_targets({"pair_allegro": {"input": [...], "output": LMP_OUTPUTS,
                              "batch_map_settings": single_frame_batch_map_settings,
                              "data_settings": allegro_data_settings}})

Each target is a dict of four entries: ``input`` and ``output`` (lists of field names),
``batch_map_settings`` (a function of the dict of dynamic dimension names, returning it
updated) and ``data_settings`` (a function of an example frame, returning the frame to trace).
:func:`compile_target` looks one up by name; :func:`compile_target_names` lists them.

Not yet consulted by :func:`nequip.model.export.export_model` (``nequip-compile``), which
exports every model with the fixed inputs :data:`nequip.model.export.EXPORT_INPUT_FIELDS` and
all energy, force, virial and stress outputs the model writes.
"""

from typing import Any, Dict, List, Mapping

import torch

from nequip.data import keys
from nequip.data.fields import get_field_type

__all__ = [
    "LMP_OUTPUTS",
    "ASE_OUTPUTS",
    "single_frame_batch_map_settings",
    "register_compile_targets",
    "compile_target",
    "compile_target_names",
]

#: Outputs the LAMMPS pair styles read: per-atom energies, forces and the virial.
LMP_OUTPUTS: List[str] = [keys.PER_ATOM_ENERGY_KEY, keys.FORCE_KEY, keys.VIRIAL_KEY]
#: Outputs the ASE calculator reads.
ASE_OUTPUTS: List[str] = [keys.PER_ATOM_ENERGY_KEY, keys.TOTAL_ENERGY_KEY, keys.FORCE_KEY, keys.STRESS_KEY]

_TARGET_ENTRIES = ("input", "output", "batch_map_settings", "data_settings")
_COMPILE_TARGETS: Dict[str, Dict[str, Any]] = {}


def single_frame_batch_map_settings(batch_map: Dict[str, Any]) -> Dict[str, Any]:
    """Make the number of frames a static dimension (one frame per call, as LAMMPS and ASE run)."""
    batch_map["graph"] = torch.export.Dim.STATIC
    return batch_map


def _is_known_field(field: Any) -> bool:
    try:
        get_field_type(field)
    except (KeyError, TypeError):
        return False
    return True


def _check_target(name: str, target: Mapping[str, Any]) -> Dict[str, Any]:
    if not isinstance(target, Mapping) or sorted(target) != sorted(_TARGET_ENTRIES):
        given = sorted(target) if isinstance(target, Mapping) else type(target).__name__
        raise ValueError(f"compile target {name!r} must be a dict of exactly {list(_TARGET_ENTRIES)}, got {given}")
    for entry in ("input", "output"):
        fields = list(target[entry])
        unknown = [f for f in fields if not _is_known_field(f)]
        if unknown:
            raise ValueError(f"compile target {name!r}: {entry} names unknown fields {unknown}")
    for entry in ("batch_map_settings", "data_settings"):
        if not callable(target[entry]):
            raise ValueError(f"compile target {name!r}: {entry} must be callable, got {target[entry]!r}")
    return {**target, "input": list(target["input"]), "output": list(target["output"])}


def register_compile_targets(target_dict: Mapping[str, Mapping[str, Any]]) -> None:
    """Add compile targets ``{name: target}``; re-registering a name replaces its target.

    Raises:
        ValueError: for a target that is not a dict of the four entries, names unknown
            fields, or whose settings are not callable.
    """
    checked = {name: _check_target(name, target) for name, target in target_dict.items()}
    _COMPILE_TARGETS.update(checked)


def compile_target(name: str) -> Dict[str, Any]:
    """The registered target ``name``.

    Raises:
        KeyError: for a name not registered, listing the registered ones.
    """
    if name not in _COMPILE_TARGETS:
        raise KeyError(f"no compile target {name!r}; registered are {compile_target_names()}")
    return _COMPILE_TARGETS[name]


def compile_target_names() -> List[str]:
    """Names of the registered compile targets, sorted."""
    return sorted(_COMPILE_TARGETS)
