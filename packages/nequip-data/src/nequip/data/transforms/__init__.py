"""Transforms applied to each frame as it leaves a dataset (type mapping, neighbor lists, stress)."""

from .neighborlist import NeighborListTransform
from .stress import VirialToStressTransform
from .type_mapper import ChemicalSpeciesToAtomTypeMapper

__all__ = ["ChemicalSpeciesToAtomTypeMapper", "NeighborListTransform", "VirialToStressTransform"]
