"""``PresetNequIPGNNModel``: :func:`~nequip.model.NequIPGNNModel` with named size presets.

The presets are the model sizes of the NequIP foundation potentials (as in upstream
NequIP 0.19), kept as plain data below. Arguments are resolved in this order, later
ones winning: :data:`PRESET_SHARED_DEFAULTS`, ``NEQUIP_GNN_PRESETS[preset]``, then the
arguments given explicitly.
"""

import inspect
from typing import Any, Dict

from .builder import model_builder
from .nequip_gnn import NequIPGNNModel

#: Defaults shared by every preset.
PRESET_SHARED_DEFAULTS: Dict[str, Any] = {
    "parity": False,
    "type_embed_num_features": 32,
    "radial_mlp_depth": 1,
    "radial_mlp_width": 128,
}

#: Size presets: name -> NequIPGNNModel arguments.
NEQUIP_GNN_PRESETS: Dict[str, Dict[str, Any]] = {
    "S": {"num_layers": 2, "l_max": 1, "num_features": [128, 64]},
    "M": {"num_layers": 4, "l_max": 2, "num_features": [128, 64, 32]},
    "L": {"num_layers": 6, "l_max": 3, "num_features": [128, 64, 32, 32]},
    "XL": {"num_layers": 6, "l_max": 4, "num_features": [320, 96, 64, 32, 32]},
}


@model_builder
def PresetNequIPGNNModel(preset: str, **kwargs: Any):
    """Build :func:`NequIPGNNModel` from the size preset ``preset`` (``S``, ``M``, ``L`` or ``XL``,
    case-insensitive), overridden by any other :func:`NequIPGNNModel` argument given.

    Shared defaults: ``parity=False``, ``type_embed_num_features=32``,
    ``radial_mlp_depth=1``, ``radial_mlp_width=128``. Presets:

    * ``S``: ``num_layers=2, l_max=1, num_features=[128, 64]``
    * ``M``: ``num_layers=4, l_max=2, num_features=[128, 64, 32]``
    * ``L``: ``num_layers=6, l_max=3, num_features=[128, 64, 32, 32]``
    * ``XL``: ``num_layers=6, l_max=4, num_features=[320, 96, 64, 32, 32]``

    Args:
        preset: the preset name.
        kwargs: :func:`NequIPGNNModel` arguments (``r_max``, ``type_names``,
            ``avg_num_neighbors``, ... and overrides of the preset values).

    Raises:
        ValueError: for an unknown preset or an argument :func:`NequIPGNNModel` does not take.
    """
    if not isinstance(preset, str) or preset.upper() not in NEQUIP_GNN_PRESETS:
        raise ValueError(f"preset={preset!r} is not allowed; allowed are {list(NEQUIP_GNN_PRESETS)}")
    allowed = [
        name
        for name in inspect.signature(NequIPGNNModel).parameters
        if name not in ("seed", "model_dtype", "compile_mode")
    ]
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"PresetNequIPGNNModel got unknown arguments {unknown}; NequIPGNNModel takes {allowed}")
    arguments = {**PRESET_SHARED_DEFAULTS, **NEQUIP_GNN_PRESETS[preset.upper()], **kwargs}
    return NequIPGNNModel(**arguments)
