"""nequip.data: atomic data for NequIP models.

Field names (:mod:`nequip.data.keys`, also as ``AtomicDataDict.*_KEY``), the field
registry, the ``AtomicDataDict`` helpers, conversion from ASE and from plain dicts,
neighbor lists, and (in subpackages) transforms, datasets, datamodules and dataset
statistics.
"""

import importlib

from . import AtomicDataDict, keys
from .ase_convert import from_ase, to_ase
from .dict_convert import from_dict
from .fields import (
    _CARTESIAN_TENSOR_FIELDS,
    _EDGE_FIELDS,
    _GRAPH_FIELDS,
    _LONG_FIELDS,
    _NODE_FIELDS,
    _register_field_prefix,
    deregister_fields,
    get_field_type,
    register_fields,
)
from .keys import ABBREV
from .neighborlist import DEFAULT_NEIGHBORLIST_BACKEND, compute_neighborlist_, register_neighborlist_backend
from .sampler import PartialSampler

#: the public names of nequip.data.stats, also importable from nequip.data (on first use, see __getattr__)
_STATS_NAMES = (
    "BaseModifier",
    "PerAtomModifier",
    "MappedFieldModifier",
    "EdgeLengths",
    "NumNeighbors",
    "Count",
    "Mean",
    "MeanAbsolute",
    "RootMeanSquare",
    "StandardDeviation",
    "Max",
    "Min",
    "CompositionLeastSquares",
    "DataStatisticsManager",
    "CommonDataStatisticsManager",
    "EnergyOnlyDataStatisticsManager",
    "MissingFieldError",
    "lookup_statistic",
)

__all__ = [
    "AtomicDataDict",
    "keys",
    "ABBREV",
    "from_ase",
    "to_ase",
    "from_dict",
    "register_fields",
    "deregister_fields",
    "get_field_type",
    "_register_field_prefix",
    "_NODE_FIELDS",
    "_EDGE_FIELDS",
    "_GRAPH_FIELDS",
    "_LONG_FIELDS",
    "_CARTESIAN_TENSOR_FIELDS",
    "compute_neighborlist_",
    "register_neighborlist_backend",
    "DEFAULT_NEIGHBORLIST_BACKEND",
    "PartialSampler",
    *_STATS_NAMES,
]


def __getattr__(name: str):
    # nequip.data.stats and its names are imported on first use: the statistics are
    # torchmetrics metrics, and importing torchmetrics takes seconds that a process which
    # only converts frames and builds neighbor lists (an MD run) would spend for nothing
    if name == "stats" or name in _STATS_NAMES:
        # import_module, not `from . import stats`: the latter looks the name up on this
        # module first, which would call this function again
        stats = importlib.import_module(f"{__name__}.stats")
        return stats if name == "stats" else getattr(stats, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
