"""Small test structures as ``AtomicDataDict`` frames, and exact symmetry operations on them.

Every frame returned here is float64, has ``atom_types`` (index into ``type_names``) and
a full neighbor list for ``r_max`` computed by :func:`nequip.data.compute_neighborlist_`.
"""

from typing import Optional, Sequence

import ase
import numpy as np
import torch

from nequip.data import AtomicDataDict, compute_neighborlist_, from_ase, keys

_GEOMETRY_ONLY = (
    keys.POSITIONS_KEY,
    keys.ATOMIC_NUMBERS_KEY,
    keys.ATOM_TYPE_KEY,
    keys.CELL_KEY,
    keys.PBC_KEY,
    keys.BATCH_KEY,
    keys.NUM_NODES_KEY,
)


def frame_from_ase(atoms: ase.Atoms, type_names: Sequence[str], r_max: float) -> AtomicDataDict.Type:
    """Frame of ``atoms`` with ``atom_types`` = index of each chemical symbol in ``type_names``.

    Raises:
        ValueError: if a chemical symbol is not in ``type_names``.
    """
    names = list(type_names)
    missing = sorted(set(atoms.get_chemical_symbols()) - set(names))
    if missing:
        raise ValueError(f"atoms contain symbols {missing} that are not in type_names {names}")
    data = from_ase(atoms)
    data = {k: v for k, v in data.items() if k in _GEOMETRY_ONLY}
    data[keys.ATOM_TYPE_KEY] = torch.tensor([names.index(s) for s in atoms.get_chemical_symbols()], dtype=torch.long)
    return with_neighbors(data, r_max)


def with_neighbors(data: AtomicDataDict.Type, r_max: float) -> AtomicDataDict.Type:
    """Copy of ``data`` with only its geometry and a freshly computed neighbor list."""
    out = {k: v for k, v in data.items() if k in _GEOMETRY_ONLY}
    return compute_neighborlist_(out, r_max)


def random_positions(num_atoms: int, box: float, min_distance: float, rng: np.random.Generator) -> np.ndarray:
    """``num_atoms`` points uniform in a cube of side ``box``, pairwise at least ``min_distance`` apart."""
    points = []
    for _ in range(10000 * num_atoms):
        p = rng.uniform(0.0, box, size=3)
        if all(np.linalg.norm(p - q) >= min_distance for q in points):
            points.append(p)
            if len(points) == num_atoms:
                return np.array(points)
    raise ValueError(f"cannot place {num_atoms} atoms {min_distance} apart in a box of {box}")


def random_cluster(
    type_names: Sequence[str], r_max: float, num_atoms: int = 6, seed: int = 0, symbols: Optional[Sequence[str]] = None
) -> AtomicDataDict.Type:
    """A non-periodic cluster whose atoms mostly see each other (box about 0.8 r_max).

    Atom symbols cycle through ``type_names`` (which must then be chemical symbols)
    unless ``symbols`` is given.
    """
    rng = np.random.default_rng(seed)
    pos = random_positions(num_atoms, 0.8 * r_max, 0.3 * r_max, rng)
    symbols = list(symbols) if symbols is not None else [type_names[i % len(type_names)] for i in range(num_atoms)]
    return frame_from_ase(ase.Atoms(symbols=symbols, positions=pos), type_names, r_max)


def random_bulk(
    type_names: Sequence[str], r_max: float, num_atoms: int = 4, seed: int = 0, symbols: Optional[Sequence[str]] = None
) -> AtomicDataDict.Type:
    """A periodic, skewed cell (edge about 0.9 r_max, so atoms see several of their own images)."""
    rng = np.random.default_rng(seed)
    length = 0.9 * r_max
    cell = length * (np.eye(3) + rng.uniform(-0.15, 0.15, size=(3, 3)))
    frac = rng.uniform(0.0, 1.0, size=(num_atoms, 3))
    # keep atoms apart (in the minimum-image sense): resample until they are
    for _ in range(1000):
        delta = frac[:, None, :] - frac[None, :, :]
        delta -= np.round(delta)
        dist = np.linalg.norm(delta @ cell, axis=-1) + np.eye(num_atoms) * 1e9
        if dist.min() > 0.25 * r_max:
            break
        frac = rng.uniform(0.0, 1.0, size=(num_atoms, 3))
    symbols = list(symbols) if symbols is not None else [type_names[i % len(type_names)] for i in range(num_atoms)]
    atoms = ase.Atoms(symbols=symbols, scaled_positions=frac, cell=cell, pbc=True)
    return frame_from_ase(atoms, type_names, r_max)


def random_rotation(seed: int = 0, proper: bool = True) -> torch.Tensor:
    """A random (3, 3) float64 orthogonal matrix, det +1 (``proper``) or -1 (with a reflection)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if (np.linalg.det(q) > 0) != proper:
        q[:, 0] = -q[:, 0]
    return torch.from_numpy(q)


def transformed(
    data: AtomicDataDict.Type, rotation: Optional[torch.Tensor] = None, translation: Optional[torch.Tensor] = None
) -> AtomicDataDict.Type:
    """Copy of ``data`` with positions ``r R^T + t`` and cell ``h R^T``; the edges stay valid."""
    out = dict(data)
    if rotation is not None:
        rot = rotation.to(data[keys.POSITIONS_KEY].dtype)
        out[keys.POSITIONS_KEY] = data[keys.POSITIONS_KEY] @ rot.T
        if keys.CELL_KEY in data:
            out[keys.CELL_KEY] = data[keys.CELL_KEY] @ rot.T
    if translation is not None:
        out[keys.POSITIONS_KEY] = out[keys.POSITIONS_KEY] + translation.to(out[keys.POSITIONS_KEY].dtype)
    return out


def permuted(data: AtomicDataDict.Type, perm: torch.Tensor) -> AtomicDataDict.Type:
    """Copy of a single frame with atom ``k`` of the result being atom ``perm[k]`` of ``data``.

    Node fields are reindexed and ``edge_index`` is relabeled; edges are also reversed in
    order so that any dependence on edge order would show.
    """
    n = data[keys.POSITIONS_KEY].shape[0]
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(n)
    out = dict(data)
    for field in (keys.POSITIONS_KEY, keys.ATOMIC_NUMBERS_KEY, keys.ATOM_TYPE_KEY, keys.BATCH_KEY):
        if field in data:
            out[field] = data[field][perm]
    flip = torch.arange(data[keys.EDGE_INDEX_KEY].shape[1] - 1, -1, -1)
    out[keys.EDGE_INDEX_KEY] = inverse[data[keys.EDGE_INDEX_KEY]][:, flip]
    out[keys.EDGE_CELL_SHIFT_KEY] = data[keys.EDGE_CELL_SHIFT_KEY][flip]
    return out
