"""Dataset statistics: field modifiers, streaming metrics and statistics managers."""

from .common import CommonDataStatisticsManager, EnergyOnlyDataStatisticsManager
from .lstsq import CompositionLeastSquares
from .manager import DataStatisticsManager, MissingFieldError, lookup_statistic
from .metrics import Count, Max, Mean, MeanAbsolute, Min, RootMeanSquare, StandardDeviation
from .modifiers import BaseModifier, EdgeLengths, MappedFieldModifier, NumNeighbors, PerAtomModifier

__all__ = [
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
]
