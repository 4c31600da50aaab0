"""Small graph modules that join, scale or copy fields (upstream NequIP's ``Concat``,
``ApplyFactor`` and ``SaveForOutput``)."""

from typing import Any, Mapping, Optional, Sequence

import torch
from e3nn import o3

from nequip.data import AtomicDataDict

from .graph_module import GraphModuleMixin


class Concat(GraphModuleMixin, torch.nn.Module):
    """Concatenate fields along their last dimension into ``out_field``.

    Args:
        in_fields: the fields, in order; each must have irreps.
        out_field: the field to write; its irreps are the sum of the inputs' (not simplified).
        irreps_in: fields available before this module.

    Example:
        >>> from nequip.data import keys
        >>> cat = Concat([keys.NODE_ATTRS_KEY, keys.NODE_FEATURES_KEY], "joined",
        ...              irreps_in={keys.NODE_ATTRS_KEY: "2x0e", keys.NODE_FEATURES_KEY: "1x1o"})
        >>> str(cat.irreps_out["joined"])
        '2x0e+1x1o'
    """

    def __init__(self, in_fields: Sequence[str], out_field: str, irreps_in: Optional[Mapping[str, Any]] = None):
        super().__init__()
        self.in_fields = list(in_fields)
        self.out_field = out_field
        self._init_irreps(irreps_in=irreps_in, required_irreps_in=self.in_fields)
        no_irreps = [field for field in self.in_fields if self.irreps_in[field] is None]
        if no_irreps:
            raise ValueError(f"Concat needs irreps for every field in in_fields; {no_irreps} have none")
        self.irreps_out[out_field] = sum((self.irreps_in[field] for field in self.in_fields), o3.Irreps())

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data[self.out_field] = torch.cat([data[field] for field in self.in_fields], dim=-1)
        return data


class ApplyFactor(GraphModuleMixin, torch.nn.Module):
    """Multiply a field by a constant: ``out_field = factor * in_field``.

    Args:
        in_field: the field to scale.
        factor: the constant.
        out_field: the field to write (default ``in_field``).
        irreps_in: fields available before this module.
    """

    def __init__(
        self,
        in_field: str,
        factor: float,
        out_field: Optional[str] = None,
        irreps_in: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__()
        self.in_field = in_field
        self.out_field = in_field if out_field is None else out_field
        self.factor = float(factor)
        self._init_irreps(irreps_in=irreps_in, required_irreps_in=[in_field])
        self.irreps_out[self.out_field] = self.irreps_in[in_field]

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data[self.out_field] = self.factor * data[self.in_field]
        return data

    def extra_repr(self) -> str:
        return f"{self.in_field} -> {self.out_field}, factor={self.factor}"


class SaveForOutput(GraphModuleMixin, torch.nn.Module):
    """Keep a copy of a field, detached from autograd, under another name (to inspect it in the output).

    Args:
        field: the field to copy.
        out_field: the name of the copy.
        irreps_in: fields available before this module.
    """

    def __init__(self, field: str, out_field: str, irreps_in: Optional[Mapping[str, Any]] = None):
        super().__init__()
        self.field = field
        self.out_field = out_field
        self._init_irreps(irreps_in=irreps_in, required_irreps_in=[field])
        self.irreps_out[out_field] = self.irreps_in[field]

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data[self.out_field] = data[self.field].detach().clone()
        return data
