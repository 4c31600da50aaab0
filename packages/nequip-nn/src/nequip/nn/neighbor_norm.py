"""Normalization of neighbor sums: node features times ``1 / sqrt(avg_num_neighbors)``.

A convolution sums messages over the neighbors of each atom; scaling the features that are
sent by ``1 / sqrt(avg_num_neighbors)`` keeps the sum at unit variance for the typical
number of neighbors. The average is one number, or one per atom type (then the factor of
the sending atom's type is used).
"""

import math
from typing import Mapping, Optional, Sequence

import torch

from nequip.data import AtomicDataDict, keys

from .per_type import PerTypeValue, per_type_list


def avg_num_neighbors_factors(avg_num_neighbors: PerTypeValue, type_names: Optional[Sequence[str]]) -> torch.Tensor:
    """``1 / sqrt(avg_num_neighbors)`` as a (1,) tensor (one value) or (num_types,) tensor (per type).

    Args:
        avg_num_neighbors: a positive number, or a dict with one positive number per type name.
        type_names: the model's atom types (required for a dict).

    Raises:
        ValueError: for ``None``, a list, non-positive values, or dict keys that are not
            exactly ``type_names`` (naming the missing and extra keys).
    """
    if avg_num_neighbors is None:
        raise ValueError("avg_num_neighbors must be a positive number or a dict {type name: number}, got None")
    if isinstance(avg_num_neighbors, Mapping) and type_names is None:
        raise ValueError("avg_num_neighbors given per type needs type_names")
    values = per_type_list(avg_num_neighbors, type_names or [], "avg_num_neighbors", positive=True)
    return torch.tensor([1.0 / math.sqrt(v) for v in values])


class AvgNumNeighborsNorm(torch.nn.Module):
    """Scale node features by ``1 / sqrt(avg_num_neighbors)`` (one value, or the atom type's).

    :meth:`factors` gives the (N, 1) or (1, 1) factors for tensors (as
    :class:`~nequip.nn.interaction.InteractionBlock` uses it); ``forward(data)`` scales the
    ``node_features`` of a data dict in place.

    Args:
        type_names: atom type names (needed for a per-type ``avg_num_neighbors``).
        avg_num_neighbors: a positive number, or ``{type name: positive number}``.

    Raises:
        ValueError: see :func:`avg_num_neighbors_factors`.

    Example:
        >>> norm = AvgNumNeighborsNorm(["H", "O"], {"H": 4.0, "O": 16.0})
        >>> data = {keys.NODE_FEATURES_KEY: torch.ones(2, 1), keys.ATOM_TYPE_KEY: torch.tensor([0, 1])}
        >>> norm(data)[keys.NODE_FEATURES_KEY].view(-1).tolist()
        [0.5, 0.25]
    """

    def __init__(self, type_names: Optional[Sequence[str]], avg_num_neighbors: PerTypeValue):
        super().__init__()
        factors = avg_num_neighbors_factors(avg_num_neighbors, type_names)
        #: one factor per type (else one for all atoms)
        self.per_type = factors.numel() > 1
        self.register_buffer("norm_const", factors.view(-1, 1).to(torch.get_default_dtype()), persistent=False)

    def factors(self, atom_types: torch.Tensor) -> torch.Tensor:
        """(N, 1) factors of the atoms with types ``atom_types`` (N,), or (1, 1) when one value."""
        if self.per_type:
            return torch.index_select(self.norm_const, 0, atom_types.view(-1))
        return self.norm_const

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data[keys.NODE_FEATURES_KEY] = data[keys.NODE_FEATURES_KEY] * self.factors(data[keys.ATOM_TYPE_KEY])
        return data
