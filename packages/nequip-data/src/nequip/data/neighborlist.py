"""Neighbor lists for single frames and batches: vesin (default), matscipy, ASE, or a registered backend.

The built-in backends (:mod:`nequip.data.neighborlist_backends`) handle periodic,
mixed-periodic and non-periodic frames, triclinic cells and cells smaller than the cutoff
(several images of the same atom), and give the same edges.

The lists they write are full lists in *pair order*: with E edges, edge ``e + E/2`` is the
reverse of edge ``e`` (j -> i with the opposite shift), so that models can compute what
depends only on the pair (the radial network of ``|r_ij|``) once per pair. Any full list
can be brought into pair order with :func:`edge_pair_order`.

Other backends are registered with :func:`register_neighborlist_backend` under a name,
as a function ``fn(data, r_max, **backend_kwargs) -> data`` that writes ``edge_index`` (and
``edge_cell_shift``) of a full list, in any order.
"""

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Final, List, Optional

import numpy as np
import torch

from . import AtomicDataDict, keys
from .AtomicDataDict import permute_edges_  # noqa: F401  (documented here, with the pair-order helpers)
from .neighborlist_backends import HalfList, ase_half_list, matscipy_half_list, vesin_half_list

# Two atoms closer than this (in the data's length unit) are taken to be at the same place.
OVERLAP_TOLERANCE = 1e-8

DEFAULT_NEIGHBORLIST_BACKEND: Final[str] = "vesin"

BackendFunction = Callable[..., AtomicDataDict.Type]


@dataclass(frozen=True)
class NeighborListBackend:
    """A neighbor-list backend: its function and where it runs.

    Attributes:
        fn: ``fn(data, r_max, **backend_kwargs) -> data``; writes ``edge_index`` (2, E) and,
            for data with a cell, ``edge_cell_shift`` (E, 3) of a full list (both directions
            of every pair, no atom with itself at zero shift), on the device of ``data``; a
            batch stays a batch.
        supports_cpu: whether it computes on CPU.
        supports_cuda: whether it computes on CUDA devices without a copy to the host.
    """

    fn: BackendFunction
    supports_cpu: bool = True
    supports_cuda: bool = False


def _frame_label(data: AtomicDataDict.Type, idx: int) -> str:
    if keys.FRAME_INDEX_KEY in data:
        return f"frame {int(data[keys.FRAME_INDEX_KEY][idx])}"
    return f"frame {idx} of the batch"


def _pair_ordered_neighborlist_(
    data: AtomicDataDict.Type, r_max: float, half_list: Callable[..., HalfList]
) -> AtomicDataDict.Type:
    """Full list in pair order over a batch, from the half list of each frame."""
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
        data[keys.PBC_KEY].cpu().numpy().reshape(n_frames, 3).astype(bool)
        if keys.PBC_KEY in data
        else np.zeros((n_frames, 3), dtype=bool)
    )

    edge_indices, edge_shifts = [], []
    start = 0
    for idx, count in enumerate(counts):
        stop = start + int(count)
        i, j, shifts, distances = half_list(pos[start:stop], cells[idx], pbcs[idx], float(r_max))
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
        start = stop

    def joined(arrays, axis=0):
        return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=axis)

    # pair order: all frames' pairs, then their reverses
    half_index = torch.from_numpy(joined(edge_indices, axis=1))
    half_shift = torch.from_numpy(joined(edge_shifts).astype(np.float64))
    device = data[keys.POSITIONS_KEY].device
    data[keys.EDGE_INDEX_KEY] = torch.cat([half_index, half_index.flip(0)], dim=1).to(device)
    data[keys.EDGE_CELL_SHIFT_KEY] = torch.cat([half_shift, 0.0 - half_shift]).to(device)  # 0.0 - x: no -0.0
    return data


def _builtin(half_list: Callable[..., HalfList], name: str) -> BackendFunction:
    def fn(data: AtomicDataDict.Type, r_max: float, **backend_kwargs) -> AtomicDataDict.Type:
        if backend_kwargs:
            raise ValueError(
                f"the {name!r} neighbor-list backend takes no backend_kwargs, got {sorted(backend_kwargs)}"
            )
        return _pair_ordered_neighborlist_(data, r_max, half_list)

    fn.__name__ = f"{name}_neighborlist_"
    return fn


# the registry, by name; register_neighborlist_backend adds to it
_BACKENDS: Dict[str, NeighborListBackend] = {
    "vesin": NeighborListBackend(_builtin(vesin_half_list, "vesin")),
    "matscipy": NeighborListBackend(_builtin(matscipy_half_list, "matscipy")),
    "ase": NeighborListBackend(_builtin(ase_half_list, "ase")),
}


def register_neighborlist_backend(
    backend: str,
    fn: BackendFunction,
    supports_cpu: bool = True,
    supports_cuda: bool = False,
    overwrite: bool = False,
) -> None:
    """Make a neighbor-list function available as ``backend`` to :func:`compute_neighborlist_`
    and ``NeighborListTransform(backend=...)``.

    Args:
        backend: the name.
        fn: ``fn(data, r_max, **backend_kwargs) -> data`` (see :class:`NeighborListBackend`).
        supports_cpu: whether it computes on CPU.
        supports_cuda: whether it computes on CUDA devices.
        overwrite: replace a backend already registered under ``backend`` (built-ins included).

    Raises:
        ValueError: for an empty name, or a name already registered without ``overwrite``.
        TypeError: if ``fn`` is not callable.
    """
    if not isinstance(backend, str) or not backend:
        raise ValueError(f"backend must be a non-empty name, got {backend!r}")
    if not callable(fn):
        raise TypeError(f"fn must be callable (data, r_max, **backend_kwargs) -> data, got {fn!r}")
    if backend in _BACKENDS and not overwrite:
        raise ValueError(f"neighbor-list backend {backend!r} is registered already; pass overwrite=True to replace it")
    _BACKENDS[backend] = NeighborListBackend(fn, supports_cpu=bool(supports_cpu), supports_cuda=bool(supports_cuda))


def neighborlist_backend(backend: str) -> NeighborListBackend:
    """The registered backend ``backend``; ``ValueError`` listing the registered names if there is none."""
    if backend not in _BACKENDS:
        raise ValueError(f"unknown neighbor-list backend {backend!r}; registered backends: {sorted(_BACKENDS)}")
    return _BACKENDS[backend]


def compute_neighborlist_(
    data: AtomicDataDict.Type,
    r_max: float,
    backend: str = DEFAULT_NEIGHBORLIST_BACKEND,
    backend_kwargs: Optional[Dict[str, Any]] = None,
    per_edge_type_cutoff: Optional[torch.Tensor] = None,
) -> AtomicDataDict.Type:
    """Write ``edge_index`` and ``edge_cell_shift`` for every frame of ``data``, in place.

    With the built-in backends the list is a full list in pair order (see the module
    docstring) over the whole batch; an asymmetric ``per_edge_type_cutoff`` drops one
    direction of some pairs, which breaks it.

    Args:
        data: one frame or a batch (``batch``/``num_atoms`` present or absent for one frame).
        r_max: cutoff radius, in the data's length unit; pairs closer than ``r_max`` are edges.
        backend: ``"vesin"`` (default), ``"matscipy"`` (``nequip-data[matscipy]``), ``"ase"``,
            or a name given to :func:`register_neighborlist_backend`.
        backend_kwargs: keyword arguments for a registered backend's function.
        per_edge_type_cutoff: optional (num_types, num_types) tensor of cutoffs
            ``[type of center, type of neighbor]``, each at most ``r_max``; edges longer than
            or as long as their pair's cutoff are dropped. Needs ``atom_types``.

    Raises:
        ValueError: if two atoms of a frame sit at the same position (names the frame and
            the atoms), if a periodic direction has a zero cell vector, or for an unknown
            backend (lists the registered ones).
    """
    if not r_max > 0:
        raise ValueError(f"r_max must be positive, got {r_max}")
    data = neighborlist_backend(backend).fn(data, r_max, **(backend_kwargs or {}))
    if per_edge_type_cutoff is not None:
        data = prune_to_per_edge_type_cutoff_(data, per_edge_type_cutoff)
    return data


def prune_to_per_edge_type_cutoff_(
    data: AtomicDataDict.Type, per_edge_type_cutoff: torch.Tensor
) -> AtomicDataDict.Type:
    """Drop the edges at or beyond their type pair's cutoff, from every edge field, in place.

    Args:
        data: a frame or batch with ``edge_index`` and ``atom_types``.
        per_edge_type_cutoff: (num_types, num_types) cutoffs ``[center type, neighbor type]``.
    """
    if keys.ATOM_TYPE_KEY not in data:
        raise KeyError(
            f"per-edge-type cutoffs need {keys.ATOM_TYPE_KEY!r}: put a ChemicalSpeciesToAtomTypeMapper "
            "before the neighbor-list transform"
        )
    types = data[keys.ATOM_TYPE_KEY].reshape(-1)
    edge_index = data[keys.EDGE_INDEX_KEY]
    geometry = {
        field: data[field]
        for field in (keys.POSITIONS_KEY, keys.EDGE_INDEX_KEY, keys.EDGE_CELL_SHIFT_KEY, keys.CELL_KEY, keys.BATCH_KEY)
        if field in data
    }
    lengths = AtomicDataDict.with_edge_vectors_(geometry)[keys.EDGE_LENGTH_KEY]
    cutoff = per_edge_type_cutoff.to(device=lengths.device, dtype=lengths.dtype)
    keep = lengths < cutoff[types[edge_index[0]], types[edge_index[1]]]
    return select_edges_(data, keep)


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
    if AtomicDataDict.edges_in_pair_order(edge_index, shift):
        return None
    center, neighbor = edge_index[0], edge_index[1]
    # one direction of each pair is "forward": i < j, or i == j with the first nonzero shift component > 0
    first_shift = torch.where(shift[:, 0] != 0, shift[:, 0], torch.where(shift[:, 1] != 0, shift[:, 1], shift[:, 2]))
    forward = (center < neighbor) | ((center == neighbor) & (first_shift > 0))
    low = torch.where(forward, center, neighbor)
    high = torch.where(forward, neighbor, center)
    pair_shift = torch.where(forward.unsqueeze(1), shift, -shift)
    order = _lexicographic_order([low, high, pair_shift[:, 0], pair_shift[:, 1], pair_shift[:, 2], (~forward).long()])
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


def _lexicographic_order(columns: List[torch.Tensor]) -> torch.Tensor:
    """The permutation that sorts rows by ``columns[0]``, then ``columns[1]``, ...: one sort of a
    mixed-radix int64 key when the key fits, else stable sorts from the last column to the first."""
    lows = [int(column.min()) if column.numel() else 0 for column in columns]
    radixes = [int(column.max()) - low + 1 if column.numel() else 1 for column, low in zip(columns, lows)]
    if math.prod(radixes) < 2**62:
        key = torch.zeros_like(columns[0])
        for column, low, radix in zip(columns, lows, radixes):
            key = key * radix + (column - low)
        return torch.sort(key).indices  # keys are unique in a valid list; ties are caught by the caller
    order = torch.arange(columns[0].shape[0], device=columns[0].device)
    for column in reversed(columns):
        order = order[torch.sort(column[order], stable=True).indices]
    return order


def select_edges_(data: AtomicDataDict.Type, keep: torch.Tensor) -> AtomicDataDict.Type:
    """Keep only the edges where ``keep`` (E,) is true, in every per-edge field, in place.

    ``edge_transpose_perm`` is restricted to the kept edges and renumbered
    (:func:`nequip.data.AtomicDataDict.select_edge_permutation`).

    Returns:
        ``data``.
    """
    for field, value in data.items():
        if field == keys.EDGE_INDEX_KEY:
            data[field] = value[:, keep]
        elif field == keys.EDGE_TRANSPOSE_PERM_KEY:
            data[field] = AtomicDataDict.select_edge_permutation(value, keep)
        elif AtomicDataDict.is_edge_field(field):
            data[field] = value[keep]
    return data


def restore_edge_order_(
    out: AtomicDataDict.Type, data: AtomicDataDict.Type, order: torch.Tensor
) -> AtomicDataDict.Type:
    """Undo the edge permutation ``order`` (applied to a copy of ``data`` by :func:`permute_edges_`)
    in the outputs ``out``, in place.

    Per-edge fields that are in ``data`` are taken back from it; other per-edge fields of
    ``out`` (written by a model) are permuted back into ``data``'s edge order.

    Returns:
        ``out``.
    """
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(order.shape[0], device=order.device)
    for field in list(out):
        if not AtomicDataDict.is_edge_field(field):
            continue
        if field in data:
            out[field] = data[field]
        else:
            out[field] = out[field][inverse]
    return out
