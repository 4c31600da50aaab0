"""Transforms applied to each frame as it leaves a dataset: types, neighbor lists, stress, cells."""

from .cell import NonPeriodicCellTransform
from .dataset_index import DatasetIndexTransform
from .neighborlist import NeighborListPruneTransform, NeighborListTransform, SortedNeighborListTransform
from .stress import AddNaNStressTransform, StressSignFlipTransform, VirialToStressTransform
from .type_mapper import ChemicalSpeciesToAtomTypeMapper

__all__ = [
    "ChemicalSpeciesToAtomTypeMapper",
    "DatasetIndexTransform",
    "NeighborListPruneTransform",
    "NeighborListTransform",
    "SortedNeighborListTransform",
    "VirialToStressTransform",
    "StressSignFlipTransform",
    "AddNaNStressTransform",
    "NonPeriodicCellTransform",
]
