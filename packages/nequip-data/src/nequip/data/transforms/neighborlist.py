"""Neighbor-list transforms: compute (with a chosen backend), prune to per-edge-type cutoffs, sort."""

from typing import Any, Dict, List, Optional, Union

import torch

from .. import AtomicDataDict, keys
from ..neighborlist import (
    DEFAULT_NEIGHBORLIST_BACKEND,
    compute_neighborlist_,
    neighborlist_backend,
    permute_edges_,
    prune_to_per_edge_type_cutoff_,
)

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
        backend: ``"vesin"`` (default), ``"matscipy"``, ``"ase"`` or a name registered with
            :func:`~nequip.data.register_neighborlist_backend`; the built-in ones give the
            same edges.
        backend_kwargs: keyword arguments for a registered backend.
    """

    def __init__(
        self,
        r_max: float,
        per_edge_type_cutoff: Optional[PerEdgeTypeCutoff] = None,
        type_names: Optional[List[str]] = None,
        backend: str = DEFAULT_NEIGHBORLIST_BACKEND,
        backend_kwargs: Optional[Dict[str, Any]] = None,
    ):
        super().__init__()
        if not float(r_max) > 0:
            raise ValueError(f"r_max must be positive, got {r_max}")
        neighborlist_backend(backend)  # an unknown name is an error now, listing the registered ones
        self.r_max = float(r_max)
        self.backend = backend
        self.backend_kwargs = dict(backend_kwargs or {})
        self.per_edge_type_cutoff = None
        if per_edge_type_cutoff is not None:
            if type_names is None:
                raise ValueError("per_edge_type_cutoff needs type_names (the model's type names, in order)")
            self.per_edge_type_cutoff = per_edge_type_cutoff_matrix(self.r_max, per_edge_type_cutoff, list(type_names))

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        return compute_neighborlist_(
            data,
            self.r_max,
            backend=self.backend,
            backend_kwargs=self.backend_kwargs,
            per_edge_type_cutoff=self.per_edge_type_cutoff,
        )


class NeighborListPruneTransform(torch.nn.Module):
    """Drop the edges of an existing neighbor list that are at or beyond their type pair's cutoff.

    Every per-edge field is pruned along with ``edge_index``. Needs ``atom_types``.

    Args:
        r_max: the cutoff of the list; every per-edge-type cutoff is at most ``r_max``.
        per_edge_type_cutoff: cutoffs per (center, neighbor) type pair, as for
            :class:`NeighborListTransform`; pairs not given keep ``r_max``.
        type_names: the model's type names, in order.
    """

    def __init__(self, r_max: float, per_edge_type_cutoff: PerEdgeTypeCutoff, type_names: List[str]):
        super().__init__()
        if not float(r_max) > 0:
            raise ValueError(f"r_max must be positive, got {r_max}")
        self.r_max = float(r_max)
        self.type_names = list(type_names)
        self.per_edge_type_cutoff = per_edge_type_cutoff_matrix(self.r_max, per_edge_type_cutoff, self.type_names)

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        if keys.EDGE_INDEX_KEY not in data:
            raise KeyError(
                f"NeighborListPruneTransform: the frame has no {keys.EDGE_INDEX_KEY!r}; put it after a neighbor list"
            )
        return prune_to_per_edge_type_cutoff_(data, self.per_edge_type_cutoff)


class SortedNeighborListTransform(NeighborListTransform):
    """:class:`NeighborListTransform` whose edges are sorted by (center i, neighbor j).

    The sort is stable (images of the same pair keep the backend's order) and moves every
    per-edge field. It also writes ``edge_transpose_perm`` (E,): the edges in the order
    sorted by (neighbor j, center i), for kernels that need the edges grouped by neighbor.
    Takes the arguments of :class:`NeighborListTransform`.
    """

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data = super().forward(data)
        edge_index = data[keys.EDGE_INDEX_KEY]
        num_nodes = AtomicDataDict.num_nodes(data)
        order = torch.sort(edge_index[0] * num_nodes + edge_index[1], stable=True).indices
        data.pop(keys.EDGE_TRANSPOSE_PERM_KEY, None)
        data = permute_edges_(data, order)
        edge_index = data[keys.EDGE_INDEX_KEY]
        data[keys.EDGE_TRANSPOSE_PERM_KEY] = torch.sort(edge_index[1] * num_nodes + edge_index[0], stable=True).indices
        return data
