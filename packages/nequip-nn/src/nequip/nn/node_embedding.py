"""Node (atom type) embeddings: fixed one-hot encoding and a learned type embedding.

Both write ``node_attrs`` (and, by default, ``node_features``) as even scalars, in the
model dtype (the dtype the module was built in, or moved to with ``.to()``).
"""

from typing import Any, Mapping, Optional, Sequence

import torch

from nequip.data import AtomicDataDict, keys

from .graph_module import GraphModuleMixin


def _check_type_names(type_names: Sequence[str]) -> list:
    names = [str(t) for t in type_names]
    if len(names) == 0:
        raise ValueError("type_names must name at least one atom type, got an empty list")
    if len(set(names)) != len(names):
        raise ValueError(f"type_names must be unique, got {names}")
    return names


class OneHotAtomEncoding(GraphModuleMixin, torch.nn.Module):
    """One-hot encoding of the atom type: ``node_attrs[i, t] = 1 if atom_types[i] == t``.

    Args:
        type_names: atom type names; their number sets the encoding width.
        set_features: also write the encoding to ``node_features``.
        irreps_in: fields available before this module.

    Example:
        >>> enc = OneHotAtomEncoding(["H", "O"])
        >>> enc({keys.ATOM_TYPE_KEY: torch.tensor([1, 0])})[keys.NODE_ATTRS_KEY].tolist()
        [[0.0, 1.0], [1.0, 0.0]]
    """

    def __init__(
        self, type_names: Sequence[str], set_features: bool = True, irreps_in: Optional[Mapping[str, Any]] = None
    ):
        super().__init__()
        self.type_names = _check_type_names(type_names)
        self.num_types = len(self.type_names)
        self.set_features = set_features
        irreps = f"{self.num_types}x0e"
        out = {keys.NODE_ATTRS_KEY: irreps}
        if set_features:
            out[keys.NODE_FEATURES_KEY] = irreps
        self._init_irreps(irreps_in=irreps_in, irreps_out=out)
        # zero-size buffer that follows .to(dtype): the output dtype
        self.register_buffer("_dtype_ref", torch.empty(0), persistent=False)

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        types = data[keys.ATOM_TYPE_KEY].view(-1)
        one_hot = torch.nn.functional.one_hot(types, self.num_types).to(self._dtype_ref.dtype)
        data[keys.NODE_ATTRS_KEY] = one_hot
        if self.set_features:
            data[keys.NODE_FEATURES_KEY] = one_hot
        return data


class NodeTypeEmbed(GraphModuleMixin, torch.nn.Module):
    """Learned embedding of the atom type (upstream ``NodeTypeEmbed``).

    ``node_attrs[i] = W[atom_types[i]]`` with ``W`` a (num_types, num_features) table
    initialized as ``torch.nn.Embedding`` does (standard normal).

    Args:
        type_names: atom type names.
        num_features: embedding width (upstream's ``type_embed_num_features``).
        set_features: also write the embedding to ``node_features``.
        irreps_in: fields available before this module.
    """

    def __init__(
        self,
        type_names: Sequence[str],
        num_features: int,
        set_features: bool = True,
        irreps_in: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__()
        self.type_names = _check_type_names(type_names)
        self.num_types = len(self.type_names)
        if not (isinstance(num_features, int) and num_features > 0):
            raise ValueError(f"num_features must be a positive integer, got {num_features!r}")
        self.set_features = set_features
        self.embedding = torch.nn.Embedding(self.num_types, num_features)
        irreps = f"{num_features}x0e"
        out = {keys.NODE_ATTRS_KEY: irreps}
        if set_features:
            out[keys.NODE_FEATURES_KEY] = irreps
        self._init_irreps(irreps_in=irreps_in, irreps_out=out)

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        embedded = self.embedding(data[keys.ATOM_TYPE_KEY].view(-1))
        data[keys.NODE_ATTRS_KEY] = embedded
        if self.set_features:
            data[keys.NODE_FEATURES_KEY] = embedded
        return data
