"""Half neighbor lists of one frame, from vesin, matscipy or ASE.

Each function here takes one frame's positions (N, 3), cell (3, 3) and pbc (3,) and a
cutoff, and returns ``(i, j, shifts, distances)``: every pair of atoms closer than
``r_max`` exactly once, r_ij = positions[j] - positions[i] + shifts @ cell, images of an
atom in other cells included (``shifts`` != 0), an atom with itself at zero shift not.
:func:`nequip.data.compute_neighborlist_` adds the reverse of each pair to make the full
list in pair order. vesin computes half lists itself; matscipy and ASE compute full lists,
of which the *forward* direction of each pair is kept (:func:`forward_edges`).

``tools/bench_neighborlist.py`` times the three on the same frames.
"""

from typing import Tuple

import ase.geometry
import ase.neighborlist
import numpy as np
from vesin import NeighborList

HalfList = Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _checked_cell(cell: np.ndarray, pbc: np.ndarray) -> np.ndarray:
    degenerate = [d for d in range(3) if pbc[d] and np.linalg.norm(cell[d]) == 0.0]
    if degenerate:
        raise ValueError(f"pbc is True along lattice vector(s) {degenerate} but the cell vector is zero")
    return cell


def _strictly_inside(pairs: HalfList, r_max: float) -> HalfList:
    # strictly inside the cutoff, as ASE and matscipy (vesin keeps d == r_max)
    inside = pairs[3] < r_max
    if inside.all():
        return pairs
    return tuple(array[inside] for array in pairs)


def forward_edges(i: np.ndarray, j: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """(E,) bool: which edges of a full list are the forward direction of their pair.

    An edge i -> j with shift S is forward when i < j, or when i == j (an image of the same
    atom) and the first nonzero component of S is positive; its reverse j -> i with -S is
    then not.
    """
    shifts = np.asarray(shifts)
    first = np.where(shifts[:, 0] != 0, shifts[:, 0], np.where(shifts[:, 1] != 0, shifts[:, 1], shifts[:, 2]))
    return (i < j) | ((i == j) & (first > 0))


def vesin_half_list(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, r_max: float) -> HalfList:
    """Half list from vesin (a cell-list search in C++ from the lab-cosmo group)."""
    cell = _checked_cell(cell, pbc) if pbc.any() else np.zeros((3, 3))
    # one thread: faster for small frames, and DataLoader workers already run frames in parallel
    calculator = NeighborList(cutoff=float(r_max), full_list=False, n_threads=1)
    i, j, shifts, distances = calculator.compute(
        points=np.ascontiguousarray(positions, dtype=np.float64), box=cell, periodic=pbc, quantities="ijSd"
    )
    return _strictly_inside((i.astype(np.int64), j.astype(np.int64), shifts, distances), r_max)


def _forward_half(i, j, shifts, distances, r_max: float) -> HalfList:
    forward = forward_edges(i, j, shifts)
    return _strictly_inside(
        (i[forward].astype(np.int64), j[forward].astype(np.int64), shifts[forward], distances[forward]), r_max
    )


def matscipy_half_list(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, r_max: float) -> HalfList:
    """Half list from matscipy's full list (``pip install nequip-data[matscipy]``)."""
    try:
        from matscipy.neighbours import neighbour_list
    except ImportError as err:
        raise ImportError(
            "the 'matscipy' neighbor-list backend needs matscipy: pip install 'nequip-data[matscipy]'"
        ) from err
    cell = ase.geometry.complete_cell(_checked_cell(cell, pbc))
    i, j, shifts, distances = neighbour_list(
        "ijSd", positions=np.ascontiguousarray(positions, dtype=np.float64), cell=cell, pbc=pbc, cutoff=float(r_max)
    )
    return _forward_half(i, j, shifts, distances, r_max)


def ase_half_list(positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray, r_max: float) -> HalfList:
    """Half list from ASE's ``primitive_neighbor_list`` (pure numpy; the slowest of the three)."""
    cell = ase.geometry.complete_cell(_checked_cell(cell, pbc))
    i, j, shifts, distances = ase.neighborlist.primitive_neighbor_list(
        "ijSd", pbc, cell, np.asarray(positions, dtype=np.float64), float(r_max), self_interaction=False
    )
    return _forward_half(i, j, shifts, distances, r_max)
