"""Neighbor lists for single frames and batches, computed with vesin.

vesin (a cell-list neighbor search in C++, from the lab-cosmo group) handles periodic,
mixed-periodic and non-periodic frames, triclinic cells and cells smaller than the cutoff
(several images of the same atom). ``tools/bench_neighborlist.py`` compares it with
matscipy and ASE on the same frames.

The lists written here are full lists in *pair order*: with E edges, edge ``e + E/2`` is the
reverse of edge ``e`` (j -> i with the opposite shift), so that models can compute what
depends only on the pair (the radial network of ``|r_ij|``) once per pair. Any full list
can be brought into pair order with :func:`edge_pair_order`.
"""

from typing import Optional

import numpy as np
import torch
from vesin import NeighborList

from . import AtomicDataDict, keys

# Two atoms closer than this (in the data's length unit) are taken to be at the same place.
OVERLAP_TOLERANCE = 1e-8


def _frame_label(data: AtomicDataDict.Type, idx: int) -> str:
    if keys.FRAME_INDEX_KEY in data:
        return f"frame {int(data[keys.FRAME_INDEX_KEY][idx])}"
    return f"frame {idx} of the batch"


def pairs_of_frame(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, r_max: float) -> tuple:
    """Half neighbor list of one frame: ``(i, j, shifts, distances)``, each pair once.

    Every pair closer than ``r_max`` appears in one direction (the full list adds the
    reverses j -> i with ``-shifts``); images of an atom in other cells are included
    (``shifts`` != 0), the atom itself with zero shift is not.
    r_ij = positions[j] - positions[i] + shifts @ cell.
    """
    pbc = np.asarray(pbc, dtype=bool).reshape(3)
    cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
    if pbc.any():
        degenerate = [d for d in range(3) if pbc[d] and np.linalg.norm(cell[d]) == 0.0]
        if degenerate:
            raise ValueError(f"pbc is True along lattice vector(s) {degenerate} but the cell vector is zero")
    else:
        cell = np.zeros((3, 3))
    # one thread: faster for small frames, and DataLoader workers already run frames in parallel
    calculator = NeighborList(cutoff=float(r_max), full_list=False, n_threads=1)
    i, j, shifts, distances = calculator.compute(
        points=np.ascontiguousarray(positions, dtype=np.float64),
        box=cell,
        periodic=pbc,
        quantities="ijSd",
    )
    inside = distances < r_max  # strictly inside, as ASE and matscipy (vesin keeps d == r_max)
    if inside.all():
        return i, j, shifts, distances
    return i[inside], j[inside], shifts[inside], distances[inside]


def compute_neighborlist_(
    data: AtomicDataDict.Type,
    r_max: float,
    per_edge_type_cutoff: Optional[torch.Tensor] = None,
) -> AtomicDataDict.Type:
    """Write ``edge_index`` and ``edge_cell_shift`` for every frame of ``data``, in place.

    The list is a full list in pair order (see the module docstring) over the whole batch;
    an asymmetric ``per_edge_type_cutoff`` drops one direction of some pairs, which breaks it.

    Args:
        data: one frame or a batch (``batch``/``num_atoms`` present or absent for one frame).
        r_max: cutoff radius, in the data's length unit.
        per_edge_type_cutoff: optional (num_types, num_types) tensor of cutoffs
            ``[type of center, type of neighbor]``, each at most ``r_max``; edges longer than
            or as long as their pair's cutoff are dropped. Needs ``atom_types``.

    Raises:
        ValueError: if two atoms of a frame sit at the same position (names the frame and
            the atoms), or if a periodic direction has a zero cell vector.
    """
    if not r_max > 0:
        raise ValueError(f"r_max must be positive, got {r_max}")
    data = AtomicDataDict.with_batch_(data)
    pos = data[keys.POSITIONS_KEY].detach().cpu().to(torch.float64).numpy()
    counts = data[keys.NUM_NODES_KEY].cpu().numpy()
    n_frames = counts.shape[0]
    cells = (
        data[keys.CELL_KEY].detach().cpu().to(torch.float64).numpy().reshape(n_frames, 3, 3)
        if keys.CELL_KEY in data
        else np.zeros((n_frames, 3, 3))
    )
    pbcs = (
        data[keys.PBC_KEY].cpu().numpy().reshape(n_frames, 3)
        if keys.PBC_KEY in data
        else np.zeros((n_frames, 3), dtype=bool)
    )

    edge_indices, edge_shifts, edge_lengths = [], [], []
    start = 0
    for idx, count in enumerate(counts):
        stop = start + int(count)
        i, j, shifts, distances = pairs_of_frame(pos[start:stop], cells[idx], pbcs[idx], r_max)
        if len(distances) and distances.min() < OVERLAP_TOLERANCE:
            overlapping = distances < OVERLAP_TOLERANCE
            a, b = int(i[overlapping][0]), int(j[overlapping][0])
            raise ValueError(
                f"{_frame_label(data, idx)}: atoms {a} and {b} are at the same position "
                f"({pos[start + a].tolist()}, distance {float(distances[overlapping][0]):.3g})"
            )
        pairs = np.empty((2, len(i)), dtype=np.int64)
        pairs[0], pairs[1] = i, j
        if start:
            pairs += start
        edge_indices.append(pairs)
        edge_shifts.append(shifts)
        edge_lengths.append(distances)
        start = stop

    def joined(arrays, axis=0):
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=axis)

    # pair order: all frames' pairs, then their reverses
    half_index = torch.from_numpy(joined(edge_indices, axis=1))
    half_shift = torch.from_numpy(joined(edge_shifts).astype(np.float64))
    edge_index = torch.cat([half_index, half_index.flip(0)], dim=1)
    edge_cell_shift = torch.cat([half_shift, 0.0 - half_shift])  # 0.0 - x: no negative zeros
    if per_edge_type_cutoff is not None:
        types = data[keys.ATOM_TYPE_KEY].cpu()
        half_lengths = torch.from_numpy(joined(edge_lengths))
        lengths = torch.cat([half_lengths, half_lengths])
        cutoff = per_edge_type_cutoff.to(torch.float64)[types[edge_index[0]], types[edge_index[1]]]
        keep = lengths < cutoff
        edge_index, edge_cell_shift = edge_index[:, keep], edge_cell_shift[keep]

    device = data[keys.POSITIONS_KEY].device
    data[keys.EDGE_INDEX_KEY] = edge_index.to(device)
    data[keys.EDGE_CELL_SHIFT_KEY] = edge_cell_shift.to(device)
    return data


def edge_pair_order(edge_index: torch.Tensor, edge_cell_shift: Optional[torch.Tensor] = None) -> Optional[torch.Tensor]:
    """The permutation that brings a full edge list into pair order, or ``None`` if it is in pair order already.

    Pair order (see the module docstring): with E edges, edge ``e + E/2`` is the reverse of
    edge ``e``: ``j -> i`` with the opposite shift. The check for lists already in pair
    order (those written by :func:`compute_neighborlist_` for any batch) costs O(E);
    other full lists (e.g. batches collated from frames) are sorted, O(E log E).

    Args:
        edge_index: (2, E) int64, centers and neighbors.
        edge_cell_shift: (E, 3) integer-valued image shifts (``None``: all zero).

    Returns:
        ``None``, or an (E,) int64 ``order`` such that the edges ``order`` (``edge_index[:, order]``,
        ``edge_cell_shift[order]``) are in pair order.

    Raises:
        ValueError: if the list is not a full list: an edge without its reverse (naming
            it), an odd number of edges, or an atom paired with itself at zero shift.

    Example:
        >>> edge_index = torch.tensor([[0, 1, 2, 1], [1, 2, 1, 0]])
        >>> edge_pair_order(edge_index).tolist()
        [0, 1, 3, 2]
    """
    num_edges = edge_index.shape[1]
    shift = (
        torch.zeros(num_edges, 3, dtype=torch.int64, device=edge_index.device)
        if edge_cell_shift is None
        else edge_cell_shift.round().to(torch.int64)
    )
    half = num_edges // 2
    if (
        num_edges % 2 == 0
        and torch.equal(edge_index[:, half:], edge_index[:, :half].flip(0))
        and torch.equal(shift[half:], -shift[:half])
    ):
        return None
    center, neighbor = edge_index[0], edge_index[1]
    # one direction of each pair is "forward": i < j, or i == j with the first nonzero shift component > 0
    first_shift = torch.where(shift[:, 0] != 0, shift[:, 0], torch.where(shift[:, 1] != 0, shift[:, 1], shift[:, 2]))
    forward = (center < neighbor) | ((center == neighbor) & (first_shift > 0))
    low = torch.where(forward, center, neighbor)
    high = torch.where(forward, neighbor, center)
    pair_shift = torch.where(forward.unsqueeze(1), shift, -shift)
    # sort by pair (low, high, shift), forward before reverse: stable sorts from the last key to the first
    order = torch.arange(num_edges, device=edge_index.device)
    for key in (~forward, pair_shift[:, 2], pair_shift[:, 1], pair_shift[:, 0], high, low):
        order = order[torch.sort(key[order], stable=True).indices]
    firsts, seconds = order[0 : 2 * half : 2], order[1 : 2 * half : 2]
    matched = (
        forward[firsts]
        & ~forward[seconds]
        & (low[firsts] == low[seconds])
        & (high[firsts] == high[seconds])
        & (pair_shift[firsts] == pair_shift[seconds]).all(dim=1)
    )
    if num_edges % 2 or not bool(matched.all()):
        bad = int(order[-1]) if bool(matched.all()) else int(firsts[~matched][0])
        raise ValueError(
            f"the edge list is not a full neighbor list: edge {bad} ({int(center[bad])} -> {int(neighbor[bad])}, "
            f"shift {shift[bad].tolist()}) has no reverse edge of its own ({int(neighbor[bad])} -> {int(center[bad])}, "
            f"shift {(-shift[bad]).tolist()}); a list with both directions of every pair, each once, and no atom "
            "paired with itself at zero shift is needed"
        )
    return torch.cat([firsts, seconds])
