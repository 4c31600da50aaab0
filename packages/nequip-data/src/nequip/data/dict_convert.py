"""``from_dict``: an ``AtomicDataDict`` from a plain dict of arrays, lists, numbers or tensors."""

from typing import Any, Mapping

import numpy as np
import torch
from ase.stress import voigt_6_to_full_3x3_stress

from . import AtomicDataDict, keys
from .fields import get_field_type, is_cartesian_tensor_field, is_long_field

# fields kept 1-D; every other 1-D node or graph field becomes a column, (N, 1) or (B, 1)
_ONE_DIMENSIONAL = {
    keys.BATCH_KEY,
    keys.ATOMIC_NUMBERS_KEY,
    keys.ATOM_TYPE_KEY,
    keys.NUM_NODES_KEY,
    keys.FRAME_INDEX_KEY,
}


def _as_tensor(field: str, value: Any) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        array = np.asarray(value)
        if array.dtype == object or array.dtype.kind in "USV":
            raise TypeError(f"from_dict: field {field!r} has a value of type {type(value).__name__} ({value!r})")
        tensor = torch.from_numpy(np.array(array))  # a copy: the caller's arrays stay untouched
    if is_long_field(field):
        return tensor.to(torch.long)
    if tensor.dtype == torch.bool:
        return tensor
    return tensor.to(torch.float64)  # integers given for a float field (e.g. a cell of [[3, 0, 0], ...])


def _cartesian(field: str, tensor: torch.Tensor, count: int) -> torch.Tensor:
    if tensor.numel() == count * 9:
        return tensor.reshape(count, 3, 3)
    if tensor.numel() == count * 6:  # Voigt order xx, yy, zz, yz, xz, xy (ASE)
        voigt = tensor.reshape(count, 6).cpu().numpy()
        return torch.from_numpy(np.stack([voigt_6_to_full_3x3_stress(v) for v in voigt])).to(tensor)
    raise ValueError(
        f"from_dict: field {field!r} has shape {tuple(tensor.shape)}; a 3x3 tensor field needs {count} x (3, 3), "
        f"{count} x 9 or {count} x 6 (Voigt) entries"
    )


def from_dict(data: Mapping[str, Any]) -> AtomicDataDict.Type:
    """Convert a dict of one frame (or a batch) into an ``AtomicDataDict`` with our dtypes and shapes.

    Values may be tensors, numpy arrays, lists or numbers. Integer fields (atomic numbers,
    types, indices; see ``long_fields`` of :func:`~nequip.data.register_fields`) become
    int64, ``pbc`` bool, every other field float64. ``batch`` and ``num_atoms``
    are added for a single frame. Per-atom and per-frame 1-D values become columns
    ((N, 1), (B, 1)), except ``batch``, ``atomic_numbers``, ``atom_types``, ``num_atoms``
    and ``frame_index``; 3x3 tensor fields (stress, virial) become (B, 3, 3), also from
    Voigt-6 or flat 9. ``pbc`` may be one bool or three; without ``pbc`` and ``cell`` the
    frame is non-periodic with a zero cell.

    Args:
        data: field name -> value; ``pos`` is required, every field must be registered
            (see :func:`~nequip.data.register_fields`).

    Raises:
        ValueError: for a missing ``pos``, a ``cell`` without ``pbc``, or a value whose
            leading dimension does not match the number of atoms, frames or edges.
        KeyError: for an unregistered field.

    Example:
        >>> frame = from_dict({"pos": [[0.0, 0.0, 0.0], [0.0, 0.0, 0.74]], "atomic_numbers": [1, 1], "total_energy": -31.7})
        >>> frame["total_energy"].shape, frame["pbc"].tolist(), frame["num_atoms"].tolist()
        (torch.Size([1, 1]), [[False, False, False]], [2])
    """
    if keys.POSITIONS_KEY not in data:
        raise ValueError(f"from_dict needs {keys.POSITIONS_KEY!r} (positions, (N, 3)); got fields {sorted(data)}")
    if keys.CELL_KEY in data and keys.PBC_KEY not in data:
        raise ValueError(f"from_dict: a {keys.CELL_KEY!r} is given without {keys.PBC_KEY!r}; give pbc explicitly")
    for field in data:
        get_field_type(field)  # KeyError naming register_fields for unknown fields
    out = {field: _as_tensor(field, value) for field, value in data.items()}

    pos = out[keys.POSITIONS_KEY]
    if pos.dim() != 2 or pos.shape[1] != 3:
        raise ValueError(f"from_dict: {keys.POSITIONS_KEY!r} must have shape (N, 3), got {tuple(pos.shape)}")
    out = AtomicDataDict.with_batch_(out)
    counts = {
        "node": pos.shape[0],
        "graph": out[keys.NUM_NODES_KEY].shape[0],
        "edge": AtomicDataDict.num_edges(out),
    }
    pbc = out.get(keys.PBC_KEY, torch.tensor(False))
    out[keys.PBC_KEY] = (pbc.reshape(1, 1) if pbc.numel() == 1 else pbc).to(torch.bool).expand(counts["graph"], 3)
    out[keys.PBC_KEY] = out[keys.PBC_KEY].contiguous()
    if keys.CELL_KEY not in out:
        out[keys.CELL_KEY] = torch.zeros(counts["graph"], 3, 3, dtype=torch.float64)

    for field, value in out.items():
        if field in (keys.EDGE_INDEX_KEY, keys.PBC_KEY):
            continue
        kind = get_field_type(field)
        count = counts[kind]
        if field == keys.CELL_KEY or (kind == "graph" and is_cartesian_tensor_field(field)):
            value = _cartesian(field, value, count)
        elif value.dim() == 0:
            value = value.reshape(1)
        if value.shape[0] != count:
            raise ValueError(
                f"from_dict: {kind} field {field!r} has shape {tuple(value.shape)}; its leading dimension must be "
                f"the number of {'atoms' if kind == 'node' else 'frames' if kind == 'graph' else 'edges'}, {count}"
            )
        if value.dim() == 1 and kind != "edge" and field not in _ONE_DIMENSIONAL:
            value = value.reshape(count, 1)
        out[field] = value.contiguous()
    return out
