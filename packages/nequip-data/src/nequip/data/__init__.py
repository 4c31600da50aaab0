"""nequip.data: atomic data for NequIP models.

Field names (:mod:`nequip.data.keys`, also as ``AtomicDataDict.*_KEY``), the
``AtomicDataDict`` helpers, ASE conversion, neighbor lists, and (in subpackages)
transforms, datasets, datamodules and dataset statistics.
"""

from . import AtomicDataDict, keys
from .ase_convert import from_ase, to_ase
from .fields import deregister_fields, get_field_type, register_fields
from .neighborlist import compute_neighborlist_
from .stats import (
    BaseModifier,
    CommonDataStatisticsManager,
    CompositionLeastSquares,
    Count,
    DataStatisticsManager,
    EdgeLengths,
    EnergyOnlyDataStatisticsManager,
    MappedFieldModifier,
    Max,
    Mean,
    MeanAbsolute,
    Min,
    NumNeighbors,
    PerAtomModifier,
    RootMeanSquare,
    StandardDeviation,
    lookup_statistic,
)

__all__ = [
    "AtomicDataDict",
    "keys",
    "from_ase",
    "to_ase",
    "register_fields",
    "deregister_fields",
    "get_field_type",
    "compute_neighborlist_",
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
    "lookup_statistic",
]
