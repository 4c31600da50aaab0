"""Neighbor lists for single frames and batches, computed with vesin.

vesin (a cell-list neighbor search in C++, from the lab-cosmo group) handles periodic,
mixed-periodic and non-periodic frames, triclinic cells and cells smaller than the cutoff
(several images of the same atom). ``tools/bench_neighborlist.py`` compares it with
matscipy and ASE on the same frames.
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


def neighbors_of_frame(
    positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, r_max: float
) -> tuple:
    """Full neighbor list of one frame: ``(i, j, shifts, distances)``.

    Every pair closer than ``r_max`` appears in both directions; images of an atom in other
    cells are included (``shifts`` != 0), the atom itself with zero shift is not.
    r_ij = positions[j] - positions[i] + shifts @ cell.
    """
    pbc = np.asarray(pbc, dtype=bool).reshape(3)
    cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
    if pbc.any():
        degenerate = [d for d in range(3) if pbc[d] and np.linalg.norm(cell[d]) == 0.0]
        if degenerate:
            raise ValueError(
                f"pbc is True along lattice vector(s) {degenerate} but the cell vector is zero"
            )
    else:
        cell = np.zeros((3, 3))
    # one thread: faster for small frames, and DataLoader workers already run frames in parallel
    calculator = NeighborList(cutoff=float(r_max), full_list=True, n_threads=1)
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
        i, j, shifts, distances = neighbors_of_frame(pos[start:stop], cells[idx], pbcs[idx], r_max)
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

    edge_index = torch.from_numpy(joined(edge_indices, axis=1))
    edge_cell_shift = torch.from_numpy(joined(edge_shifts).astype(np.float64))
    if per_edge_type_cutoff is not None:
        types = data[keys.ATOM_TYPE_KEY].cpu()
        lengths = torch.from_numpy(joined(edge_lengths))
        cutoff = per_edge_type_cutoff.to(torch.float64)[types[edge_index[0]], types[edge_index[1]]]
        keep = lengths < cutoff
        edge_index, edge_cell_shift = edge_index[:, keep], edge_cell_shift[keep]

    device = data[keys.POSITIONS_KEY].device
    data[keys.EDGE_INDEX_KEY] = edge_index.to(device)
    data[keys.EDGE_CELL_SHIFT_KEY] = edge_cell_shift.to(device)
    return data
