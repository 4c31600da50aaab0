"""Helpers that graph modules call on tensors and data dicts, under upstream NequIP's names.

Each is a thin adapter over the implementation that already exists elsewhere in the
workspace: :func:`scatter` over :func:`nequip.nn.kernels.scatter_sum`,
:func:`with_edge_vectors_` over :func:`nequip.data.AtomicDataDict.with_edge_vectors_`
(edge lengths are (E,), the workspace's shape of ``edge_lengths``), :func:`tp_path_exists`
from :mod:`nequip.nn.convnet`.
"""

from typing import Optional

import torch

from nequip.data import AtomicDataDict, keys

from .convnet import tp_path_exists  # noqa: F401  (upstream's nequip.nn.utils.tp_path_exists)
from .kernels.scatter import scatter_sum

# tp_path_exists is documented with nequip.nn.convnet, where it is defined
__all__ = ["scatter", "with_edge_type_", "with_edge_vectors_"]


def scatter(
    src: torch.Tensor,
    index: torch.Tensor,
    dim: int = -1,
    out: Optional[torch.Tensor] = None,
    dim_size: Optional[int] = None,
    reduce: str = "sum",
) -> torch.Tensor:
    """Sum the slices of ``src`` along ``dim`` into the slots named by ``index``.

    ``result.select(dim, n) = sum of src.select(dim, e) over e with index[e] == n``.

    Args:
        src: the values, any shape.
        index: (src.shape[dim],) int64 target slot of each slice.
        dim: the dimension summed over (default the last, as upstream NequIP).
        out: add into this tensor (in place) instead of a new one of zeros.
        dim_size: number of slots (default ``index.max() + 1``, 0 for an empty index).
        reduce: only ``"sum"``.

    Returns:
        ``out``, or a new tensor shaped like ``src`` with ``dim_size`` slots along ``dim``.

    Raises:
        ValueError: for another ``reduce``, or an ``index`` that is not one entry per slice.

    Example:
        >>> scatter(torch.ones(4, 2), torch.tensor([0, 0, 1, 1]), dim=0)
        tensor([[2., 2.],
                [2., 2.]])
    """
    if reduce != "sum":
        raise ValueError(f"scatter: reduce={reduce!r} is not allowed; allowed is 'sum'")
    dim = dim % src.dim()
    if index.dim() != 1 or index.shape[0] != src.shape[dim]:
        raise ValueError(
            f"scatter: index must have shape ({src.shape[dim]},), one slot per slice of src along dim={dim}, "
            f"got {tuple(index.shape)}"
        )
    if out is not None:
        return out.index_add_(dim, index, src)
    if dim_size is None:
        dim_size = int(index.max()) + 1 if index.numel() > 0 else 0
    summed = scatter_sum(src.movedim(dim, 0), index, dim_size)
    return summed.movedim(0, dim)


def with_edge_vectors_(
    data: AtomicDataDict.Type,
    with_lengths: bool = True,
    edge_index_field: str = keys.EDGE_INDEX_KEY,
    edge_cell_shift_field: str = keys.EDGE_CELL_SHIFT_KEY,
    edge_vec_field: str = keys.EDGE_VECTORS_KEY,
    edge_len_field: str = keys.EDGE_LENGTH_KEY,
) -> AtomicDataDict.Type:
    """Add the edge vectors ``r_ij = pos[j] - pos[i] + shift @ cell`` (E, 3) and lengths (E,), in place.

    Differentiable with respect to positions and cell; nothing is recomputed when the
    vectors are present. The field arguments read and write other fields than the
    standard ones (e.g. a second neighbor list).

    Args:
        data: the data dict (positions, the edge index, and for periodic frames shifts and cell).
        with_lengths: also write the lengths.
        edge_index_field: the (2, E) edge index to use.
        edge_cell_shift_field: its (E, 3) cell shifts.
        edge_vec_field: where to write the vectors.
        edge_len_field: where to write the lengths.

    Returns:
        ``data``.
    """
    standard = (keys.EDGE_INDEX_KEY, keys.EDGE_CELL_SHIFT_KEY, keys.EDGE_VECTORS_KEY, keys.EDGE_LENGTH_KEY)
    if (edge_index_field, edge_cell_shift_field, edge_vec_field, edge_len_field) == standard:
        return AtomicDataDict.with_edge_vectors_(data, with_lengths=with_lengths)
    renamed = {
        keys.EDGE_INDEX_KEY: edge_index_field,
        keys.EDGE_CELL_SHIFT_KEY: edge_cell_shift_field,
        keys.EDGE_VECTORS_KEY: edge_vec_field,
        keys.EDGE_LENGTH_KEY: edge_len_field,
    }
    view = {field: data[field] for field in (keys.POSITIONS_KEY, keys.CELL_KEY, keys.BATCH_KEY) if field in data}
    view.update({field: data[ours] for field, ours in renamed.items() if ours in data})
    AtomicDataDict.with_edge_vectors_(view, with_lengths=with_lengths)
    for standard_field in (keys.EDGE_VECTORS_KEY, keys.EDGE_LENGTH_KEY):
        if standard_field in view:
            data[renamed[standard_field]] = view[standard_field]
    return data


def with_edge_type_(data: AtomicDataDict.Type, edge_type_field: str = keys.EDGE_TYPE_KEY) -> AtomicDataDict.Type:
    """Add the atom types of both ends of every edge, (2, E) int64 (row 0 center, row 1 neighbor), in place.

    Nothing is recomputed when ``edge_type_field`` is present; a present field that is not
    (2, E) (e.g. the flat ``t_i * T + t_j`` that :class:`nequip.nn.radial.EdgeLengthNormalizer`
    writes under the same default key) is a ``ValueError``, never silently used.

    Args:
        data: the data dict (atom types and edge index).
        edge_type_field: where to write the edge types.

    Returns:
        ``data``.

    Example:
        >>> data = {keys.ATOM_TYPE_KEY: torch.tensor([0, 1]), keys.EDGE_INDEX_KEY: torch.tensor([[0, 1], [1, 0]])}
        >>> with_edge_type_(data, "pair_types")["pair_types"].tolist()
        [[0, 1], [1, 0]]
    """
    if edge_type_field not in data:
        types = data[keys.ATOM_TYPE_KEY].view(-1)
        edge_index = data[keys.EDGE_INDEX_KEY]
        data[edge_type_field] = torch.index_select(types, 0, edge_index.reshape(-1)).view(2, -1)
    elif data[edge_type_field].dim() != 2 or data[edge_type_field].shape[0] != 2:
        raise ValueError(
            f"with_edge_type_: data[{edge_type_field!r}] has shape {tuple(data[edge_type_field].shape)}, "
            "not the (2, num_edges) edge types it writes (a flat per-edge-type index from "
            "nequip.nn.radial.EdgeLengthNormalizer uses the same key); pass another edge_type_field"
        )
    return data
