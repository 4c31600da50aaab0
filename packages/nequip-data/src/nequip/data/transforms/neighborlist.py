"""Neighbor-list transform, with optional per-edge-type cutoffs."""

from typing import Dict, List, Optional, Union

import torch

from .. import AtomicDataDict
from ..neighborlist import compute_neighborlist_

PerEdgeTypeCutoff = Dict[str, Union[float, Dict[str, float]]]


def per_edge_type_cutoff_matrix(
    r_max: float, per_edge_type_cutoff: PerEdgeTypeCutoff, type_names: List[str]
) -> torch.Tensor:
    """(num_types, num_types) cutoffs ``[center type, neighbor type]`` from the config form.

    ``per_edge_type_cutoff`` maps a center type to one cutoff for all neighbors or to a dict
    of neighbor type -> cutoff. Pairs not given use ``r_max``. Every value must be in
    (0, r_max].
    """
    matrix = torch.full((len(type_names), len(type_names)), float(r_max), dtype=torch.float64)
    for center, value in per_edge_type_cutoff.items():
        if center not in type_names:
            raise ValueError(f"per_edge_type_cutoff has type {center!r}, which is not in type_names {type_names}")
        row = type_names.index(center)
        neighbors = value if isinstance(value, dict) else {name: value for name in type_names}
        for neighbor, cutoff in neighbors.items():
            if neighbor not in type_names:
                raise ValueError(
                    f"per_edge_type_cutoff[{center!r}] has type {neighbor!r}, which is not in type_names {type_names}"
                )
            if not 0.0 < float(cutoff) <= r_max:
                raise ValueError(
                    f"per_edge_type_cutoff[{center!r}][{neighbor!r}] = {cutoff} must be in (0, r_max={r_max}]"
                )
            matrix[row, type_names.index(neighbor)] = float(cutoff)
    return matrix


class NeighborListTransform(torch.nn.Module):
    """Compute the neighbor list of each frame (``edge_index``, ``edge_cell_shift``).

    Args:
        r_max: cutoff radius.
        per_edge_type_cutoff: optional smaller cutoffs per (center, neighbor) type pair,
            e.g. ``{"H": 3.0, "C": {"H": 3.5, "C": 4.0}}``; needs ``type_names`` and a
            ``ChemicalSpeciesToAtomTypeMapper`` before this transform.
        type_names: the model's type names, in order.
    """

    def __init__(
        self,
        r_max: float,
        per_edge_type_cutoff: Optional[PerEdgeTypeCutoff] = None,
        type_names: Optional[List[str]] = None,
    ):
        super().__init__()
        if not float(r_max) > 0:
            raise ValueError(f"r_max must be positive, got {r_max}")
        self.r_max = float(r_max)
        self.per_edge_type_cutoff = None
        if per_edge_type_cutoff is not None:
            if type_names is None:
                raise ValueError("per_edge_type_cutoff needs type_names (the model's type names, in order)")
            self.per_edge_type_cutoff = per_edge_type_cutoff_matrix(self.r_max, per_edge_type_cutoff, list(type_names))

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        return compute_neighborlist_(data, self.r_max, per_edge_type_cutoff=self.per_edge_type_cutoff)
