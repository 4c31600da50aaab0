"""``AtomicDataDict``: atomic data as a plain ``dict[str, torch.Tensor]``, and helpers for it.

A frame and a batch of frames have the same layout: a single frame is a batch of one.
Every dict carries ``batch`` (N,) and ``num_atoms`` (B,), and per-frame fields have a
leading dimension B (``cell`` is (B, 3, 3), ``total_energy`` is (B, 1)). Field names are
the constants of :mod:`nequip.data.keys`, re-exported here so that
``AtomicDataDict.FORCE_KEY`` works as in upstream NequIP.
"""

from typing import Dict, List, Optional, Union

import torch

from .fields import get_field_type
from .keys import *  # noqa: F401,F403  (re-export the field names)
from .keys import (
    BATCH_KEY,
    CELL_KEY,
    EDGE_CELL_SHIFT_KEY,
    EDGE_INDEX_KEY,
    EDGE_LENGTH_KEY,
    EDGE_TRANSPOSE_PERM_KEY,
    EDGE_VECTORS_KEY,
    NUM_NODES_KEY,
    POSITIONS_KEY,
)

Type = Dict[str, torch.Tensor]


# The counts below are tensor sizes, not int(...) of them: under torch.export a size is a
# symbolic integer, and int() would fix the exported program to the example's size.


def num_frames(data: Type) -> int:
    """Number of frames B in ``data``."""
    return data[NUM_NODES_KEY].shape[0]


def num_nodes(data: Type) -> int:
    """Total number of atoms N in ``data``."""
    return data[POSITIONS_KEY].shape[0]


def num_edges(data: Type) -> int:
    """Total number of edges E in ``data`` (0 before a neighbor list is computed)."""
    edge_index = data.get(EDGE_INDEX_KEY)
    return 0 if edge_index is None else edge_index.shape[1]


def with_batch_(data: Type) -> Type:
    """Add ``batch`` and ``num_atoms`` for a single frame that lacks them; return ``data``."""
    n = data[POSITIONS_KEY].shape[0]
    if NUM_NODES_KEY not in data:
        # torch.full, not torch.tensor([n]): under tracing n stays a symbolic size instead of a constant
        data[NUM_NODES_KEY] = torch.full((1,), n, dtype=torch.long, device=data[POSITIONS_KEY].device)
    if BATCH_KEY not in data:
        if data[NUM_NODES_KEY].shape[0] != 1:
            raise ValueError(f"data has {data[NUM_NODES_KEY].shape[0]} frames but no {BATCH_KEY!r} field")
        data[BATCH_KEY] = torch.zeros(n, dtype=torch.long, device=data[POSITIONS_KEY].device)
    return data


def edges_in_pair_order(edge_index: torch.Tensor, edge_cell_shift: Optional[torch.Tensor] = None) -> bool:
    """Whether the E edges are in pair order: edge ``e + E / 2`` is the reverse of edge ``e``
    (``j -> i`` with shift ``-S``) for every ``e < E / 2`` (``edge_cell_shift`` ``None``: all zero)."""
    num_edges = edge_index.shape[1]
    half = num_edges // 2
    return (
        num_edges % 2 == 0
        and torch.equal(edge_index[:, half:], edge_index[:, :half].flip(0))
        and (edge_cell_shift is None or torch.equal(edge_cell_shift[half:], -edge_cell_shift[:half]))
    )


def batched_from_list(data_list: List[Type]) -> Type:
    """Concatenate frames (or batches) into one batch: one disconnected graph.

    Node and edge fields are concatenated, ``edge_index`` is offset by the number of atoms
    before each frame, ``batch`` by the number of frames before it. All inputs must have the
    same fields. If every input lists its edges in pair order (:func:`edges_in_pair_order`),
    so does the batch: the first halves of all inputs' edges, then their second halves
    (models that need pair order then need not sort the batch's edges).
    """
    if len(data_list) == 0:
        raise ValueError("batched_from_list needs at least one frame, got an empty list")
    if len(data_list) == 1:
        return dict(data_list[0])
    fields = set(data_list[0].keys())
    for idx, data in enumerate(data_list):
        if set(data.keys()) != fields:
            missing, extra = fields - set(data.keys()), set(data.keys()) - fields
            raise KeyError(
                f"frame {idx} of the list has different fields from frame 0: "
                f"missing {sorted(missing)}, extra {sorted(extra)}"
            )

    out: Type = {}

    def offsets(counts: List[int]) -> List[int]:
        return [sum(counts[:i]) for i in range(len(counts))]

    node_offsets = offsets([num_nodes(d) for d in data_list])
    frame_offsets = offsets([num_frames(d) for d in data_list])
    for field in fields:
        tensors = [d[field] for d in data_list]
        if field == EDGE_INDEX_KEY:
            out[field] = torch.cat([t + off for t, off in zip(tensors, node_offsets)], dim=1)
        elif field == BATCH_KEY:
            out[field] = torch.cat([t + off for t, off in zip(tensors, frame_offsets)])
        elif field == EDGE_TRANSPOSE_PERM_KEY:  # edge indices: offset by the edges before each frame
            edge_offsets = offsets([num_edges(d) for d in data_list])
            out[field] = torch.cat([t + off for t, off in zip(tensors, edge_offsets)])
        else:
            out[field] = torch.cat(tensors, dim=0)
    if EDGE_INDEX_KEY in fields and all(
        edges_in_pair_order(d[EDGE_INDEX_KEY], d.get(EDGE_CELL_SHIFT_KEY)) for d in data_list
    ):
        order = _pair_order_of_concatenation([num_edges(d) for d in data_list])
        permute_edges_(out, order.to(out[EDGE_INDEX_KEY].device))
    return out


def _pair_order_of_concatenation(counts: List[int]) -> torch.Tensor:
    """For inputs with ``counts`` edges each, all in pair order, concatenated: the edge order
    (new position -> position in the concatenation) that puts all first halves, then all
    second halves."""
    starts = [sum(counts[:i]) for i in range(len(counts))]
    firsts = [torch.arange(start, start + count // 2) for start, count in zip(starts, counts)]
    seconds = [torch.arange(start + count // 2, start + count) for start, count in zip(starts, counts)]
    return torch.cat(firsts + seconds)


def is_edge_field(field: str) -> bool:
    """Whether ``field`` is a registered per-edge field (``False`` for an unregistered one)."""
    try:
        return get_field_type(field) == "edge"
    except KeyError:
        return False


def permute_edges_(data: Type, order: torch.Tensor) -> Type:
    """Reorder the edges of ``data`` by ``order`` (new position -> old edge), in place.

    Every registered per-edge field is permuted: ``edge_index[:, order]``, ``field[order]``;
    ``edge_transpose_perm`` holds edge numbers, which are renumbered instead.

    Returns:
        ``data``.
    """
    for field, value in data.items():
        if field == EDGE_INDEX_KEY:
            data[field] = value[:, order]
        elif field == EDGE_TRANSPOSE_PERM_KEY:
            inverse = torch.empty_like(order)
            inverse[order] = torch.arange(order.shape[0], device=order.device)
            data[field] = inverse[value]
        elif is_edge_field(field):
            data[field] = value[order]
    return data


def frame_from_batched(batched_data: Type, index: int) -> Type:
    """Extract frame ``index`` of a batch as a dict of one frame (with ``batch`` all zero)."""
    n_frames = num_frames(batched_data)
    if not -n_frames <= index < n_frames:
        raise IndexError(f"frame index {index} is out of range for a batch of {n_frames} frames")
    index = index % n_frames
    counts = batched_data[NUM_NODES_KEY]
    start = int(counts[:index].sum())
    stop = start + int(counts[index])
    edge_mask = None
    if EDGE_INDEX_KEY in batched_data:
        center = batched_data[EDGE_INDEX_KEY][0]
        edge_mask = (center >= start) & (center < stop)

    out: Type = {}
    for field, value in batched_data.items():
        if field == BATCH_KEY:
            out[field] = torch.zeros(stop - start, dtype=value.dtype, device=value.device)
            continue
        kind = get_field_type(field)
        if kind == "node":
            out[field] = value[start:stop]
        elif kind == "graph":
            out[field] = value[index : index + 1]
        elif field == EDGE_INDEX_KEY:
            out[field] = value[:, edge_mask] - start
        elif field == EDGE_TRANSPOSE_PERM_KEY:
            out[field] = select_edge_permutation(value, edge_mask)
        else:
            out[field] = value[edge_mask]
    return out


def select_edge_permutation(permutation: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """A permutation of edges restricted to the kept edges, in the numbering of the kept edges.

    Args:
        permutation: (E,) int64, an ordering of the E edges (e.g. ``edge_transpose_perm``).
        keep: (E,) bool, the edges that remain.

    Returns:
        (E_kept,) int64: the kept edges in the order ``permutation`` puts them, numbered
        0..E_kept-1 by their position among the kept edges.
    """
    new_position = torch.cumsum(keep.to(torch.long), 0) - 1
    return new_position[permutation[keep[permutation]]]


def to_(
    data: Type,
    device: Optional[Union[str, torch.device]] = None,
    dtype: Optional[torch.dtype] = None,
) -> Type:
    """Move every tensor to ``device`` and cast floating-point tensors to ``dtype``, in place."""
    for field, value in data.items():
        target_dtype = dtype if (dtype is not None and value.is_floating_point()) else value.dtype
        data[field] = value.to(device=device, dtype=target_dtype)
    return data


def with_edge_vectors_(data: Type, with_lengths: bool = True) -> Type:
    """Compute edge vectors r_ij = pos[j] - pos[i] + S_ij @ cell (and lengths), in place.

    Differentiable with respect to ``pos`` and ``cell``, so forces and stress can be taken
    by autograd. Does nothing if the vectors are already present.
    """
    if EDGE_VECTORS_KEY in data:
        if with_lengths and EDGE_LENGTH_KEY not in data:
            data[EDGE_LENGTH_KEY] = torch.linalg.norm(data[EDGE_VECTORS_KEY], dim=-1)
        return data
    pos = data[POSITIONS_KEY]
    center, neighbor = data[EDGE_INDEX_KEY][0], data[EDGE_INDEX_KEY][1]
    vectors = torch.index_select(pos, 0, neighbor) - torch.index_select(pos, 0, center)
    if EDGE_CELL_SHIFT_KEY in data and CELL_KEY in data:
        shift = data[EDGE_CELL_SHIFT_KEY].to(pos.dtype)
        cell = data[CELL_KEY].to(pos.dtype)
        if cell.shape[0] == 1:
            vectors = vectors + shift @ cell[0]
        else:
            # cell of each atom, then of each edge: the gradient with respect to the cell is summed
            # from edges to atoms to frames, not from all edges into the few cells at once
            # (under torch.compile that sum is atomic additions, contended on a handful of addresses)
            atom_cell = torch.index_select(cell, 0, data[BATCH_KEY])
            edge_cell = torch.index_select(atom_cell, 0, center)
            vectors = vectors + torch.einsum("ei,eij->ej", shift, edge_cell)
    data[EDGE_VECTORS_KEY] = vectors
    if with_lengths:
        data[EDGE_LENGTH_KEY] = torch.linalg.norm(vectors, dim=-1)
    return data
