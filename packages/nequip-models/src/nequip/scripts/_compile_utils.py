"""The registry of compile targets: what ``nequip-compile --target NAME`` exports a model for.

A target names the input and output fields of the exported graph, in order. The built-in
target ``ase`` (:data:`ASE_TARGET`, the default) is the one ``NequIPCalculator`` runs.
An extension package registers its targets when imported (Allegro registers
``pair_allegro``, the LAMMPS pair style's inputs and outputs)::

    register_compile_targets({"pair_allegro": {"input": [...], "output": LMP_OUTPUTS,
                              "batch_map_settings": single_frame_batch_map_settings,
                              "data_settings": allegro_data_settings}})

A target is a dict with the entries

* ``input``, ``output``: lists of registered field names;
* ``batch_map_settings``: a function of the dict of dynamic dimensions (``"graph"``: frames,
  ``"node"``: atoms, ``"edge"``: edges, each a ``torch.export.Dim`` or ``Dim.STATIC``),
  returning it updated;
* ``data_settings``: a function of a frame (with its neighbor list), returning the frame in
  the target's input format (e.g. with periodic images as explicit atoms);

with which :func:`nequip.model.export.export_model` traces the model's own forward pass on
the target's inputs; or, for a target whose graph is not the model's forward pass (the
LAMMPS ``pair_style nequip`` graph of ``nequip-lammps``),

* ``export``: a function ``export(model, path, *, mode, device, cpu_threads,
  validation_frames, inductor_configs, **options)`` that writes the file and returns its
  metadata (with ``"target"`` set to the target's name); ``batch_map_settings`` and
  ``data_settings`` are then optional (not used);
* ``options`` (optional, with ``export``): ``{name: argparse keyword arguments}`` (without
  ``default`` and ``dest``), the target's own options, which ``nequip-compile`` offers as
  ``--name`` and passes to ``export`` when given.

:func:`compile_target` looks one up by name; :func:`compile_target_names` lists them.
"""

from typing import Any, Dict, List, Mapping

import torch

from nequip.data import keys
from nequip.data.fields import get_field_type

__all__ = [
    "ASE_TARGET",
    "ASE_INPUTS",
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
#: Name of the built-in target of ``NequIPCalculator`` (``nequip-compile``'s default).
ASE_TARGET = "ase"
#: Inputs of the ``ase`` target: one frame with its neighbor list and periodic cell shifts.
ASE_INPUTS: List[str] = [
    keys.POSITIONS_KEY,
    keys.EDGE_INDEX_KEY,
    keys.EDGE_CELL_SHIFT_KEY,
    keys.CELL_KEY,
    keys.ATOM_TYPE_KEY,
    keys.BATCH_KEY,
    keys.NUM_NODES_KEY,
]

_REQUIRED_ENTRIES = ("input", "output")
_SETTINGS_ENTRIES = ("batch_map_settings", "data_settings")
_EXPORT_ENTRIES = ("export", "options")
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
    if not isinstance(target, Mapping):
        raise ValueError(f"compile target {name!r} must be a dict, got a {type(target).__name__}")
    custom = "export" in target
    required = _REQUIRED_ENTRIES + (("export",) if custom else _SETTINGS_ENTRIES)
    allowed = _REQUIRED_ENTRIES + _SETTINGS_ENTRIES + (_EXPORT_ENTRIES if custom else ())
    missing, unknown = [e for e in required if e not in target], sorted(set(target) - set(allowed))
    if missing or unknown:
        raise ValueError(
            f"compile target {name!r} must have the entries {list(required)} (allowed: {list(allowed)}); "
            f"missing {missing}, not allowed {unknown}"
        )
    for entry in _REQUIRED_ENTRIES:
        fields = list(target[entry])
        unknown_fields = [f for f in fields if not _is_known_field(f)]
        if unknown_fields:
            raise ValueError(f"compile target {name!r}: {entry} names unknown fields {unknown_fields}")
    for entry in _SETTINGS_ENTRIES + ("export",):
        if entry in target and not callable(target[entry]):
            raise ValueError(f"compile target {name!r}: {entry} must be callable, got {target[entry]!r}")
    options = target.get("options", {})
    if not isinstance(options, Mapping) or not all(isinstance(o, Mapping) for o in options.values()):
        raise ValueError(f"compile target {name!r}: options must be a dict of name -> argparse keyword arguments")
    for option, kwargs in options.items():
        # an option not given is not passed: the export function's default applies
        if "default" in kwargs or "dest" in kwargs:
            raise ValueError(
                f"compile target {name!r}: option {option!r} may not set 'default' or 'dest' (an option not given "
                "is not passed, so the export function's own default applies)"
            )
    return {**target, "input": list(target["input"]), "output": list(target["output"]), "options": dict(options)}


def register_compile_targets(target_dict: Mapping[str, Mapping[str, Any]]) -> None:
    """Add compile targets ``{name: target}``; re-registering a name replaces its target.

    Raises:
        ValueError: for a target without the entries the module docstring lists (or with
            others), that names unknown fields, or whose settings are not callable.
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


def _identity_data_settings(data: Dict[str, Any]) -> Dict[str, Any]:
    """The ``ase`` target's frames need no change: the calculator passes them as they are."""
    return data


register_compile_targets(
    {
        ASE_TARGET: {
            "input": ASE_INPUTS,
            # and the virial, for Python users of the loaded model (it costs nothing beside the stress)
            "output": ASE_OUTPUTS + [keys.VIRIAL_KEY],
            "batch_map_settings": single_frame_batch_map_settings,
            "data_settings": _identity_data_settings,
        }
    }
)
