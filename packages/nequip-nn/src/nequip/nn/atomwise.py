"""Per-atom operations: an equivariant linear map of a node field, and the sum over atoms."""

from typing import Any, Mapping, Optional, Union

import torch
from e3nn import o3

from nequip.data import AtomicDataDict, keys
from nequip.data.fields import get_field_type

from .graph_module import GraphModuleMixin
from .kernels.scatter import scatter_sum

_REDUCTIONS = ("sum", "mean", "normalized_sum")


class AtomwiseOperation(GraphModuleMixin, torch.nn.Module):
    """Apply an e3nn-style operation (a module with ``irreps_in`` and ``irreps_out``) to a
    node field, in place: ``data[field] = operation(data[field])``.

    Args:
        operation: the module, e.g. an ``e3nn.o3.Linear`` or ``e3nn.nn.Gate``; the field must
            have its ``irreps_in``.
        field: the node field.
        irreps_in: fields available before this module.

    Example:
        >>> op = AtomwiseOperation(o3.Linear("2x0e", "3x0e"), keys.NODE_FEATURES_KEY,
        ...                        irreps_in={keys.NODE_FEATURES_KEY: "2x0e"})
        >>> str(op.irreps_out[keys.NODE_FEATURES_KEY])
        '3x0e'
    """

    def __init__(self, operation: torch.nn.Module, field: str, irreps_in: Optional[Mapping[str, Any]] = None):
        super().__init__()
        self.operation = operation
        self.field = field
        self._init_irreps(
            irreps_in=irreps_in,
            my_irreps_in={field: operation.irreps_in},
            irreps_out={field: operation.irreps_out},
        )

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data[self.field] = self.operation(data[self.field])
        return data


class AtomwiseLinear(GraphModuleMixin, torch.nn.Module):
    """Equivariant linear map (``e3nn.o3.Linear``, no bias) of a node field.

    Args:
        field: input field (default ``node_features``).
        out_field: output field (default ``field``).
        irreps_in: fields available before this module.
        irreps_out: output irreps (default: those of ``field``).
    """

    def __init__(
        self,
        field: str = keys.NODE_FEATURES_KEY,
        out_field: Optional[str] = None,
        irreps_in: Optional[Mapping[str, Any]] = None,
        irreps_out: Optional[Union[str, o3.Irreps]] = None,
    ):
        super().__init__()
        self.field = field
        self.out_field = field if out_field is None else out_field
        self._init_irreps(irreps_in=irreps_in, required_irreps_in=[field])
        irreps_field = self.irreps_in[field]
        if irreps_field is None:
            raise ValueError(f"AtomwiseLinear needs irreps for field {field!r}, got None")
        self.irreps_out[self.out_field] = o3.Irreps(irreps_field if irreps_out is None else irreps_out)
        self.linear = o3.Linear(irreps_field, self.irreps_out[self.out_field])

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data[self.out_field] = self.linear(data[self.field])
        return data


class AtomwiseReduce(GraphModuleMixin, torch.nn.Module):
    """Per-atom field -> per-frame field: sum (or mean) over the atoms of each frame, in float64.

    Args:
        field: a node field, e.g. ``atomic_energy`` (N, d).
        out_field: the graph field to write, e.g. ``total_energy`` (B, d); default
            ``f"{reduce}_{field}"``.
        reduce: ``"sum"`` (default), ``"mean"``, or ``"normalized_sum"`` (sum divided by
            sqrt(avg_num_atoms)).
        avg_num_atoms: required for ``"normalized_sum"``.
        irreps_in: fields available before this module.
    """

    def __init__(
        self,
        field: str,
        out_field: Optional[str] = None,
        reduce: str = "sum",
        avg_num_atoms: Optional[float] = None,
        irreps_in: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__()
        if reduce not in _REDUCTIONS:
            raise ValueError(f"reduce={reduce!r} is not allowed; allowed are {list(_REDUCTIONS)}")
        if get_field_type(field) != "node":
            raise ValueError(f"AtomwiseReduce needs a per-atom (node) field, got {field!r}")
        self.constant = 1.0
        if reduce == "normalized_sum":
            if avg_num_atoms is None or not avg_num_atoms > 0:
                raise ValueError(f"reduce='normalized_sum' needs a positive avg_num_atoms, got {avg_num_atoms!r}")
            self.constant = float(avg_num_atoms) ** -0.5
        self.reduce = reduce
        self.field = field
        self.out_field = f"{reduce}_{field}" if out_field is None else out_field
        self._init_irreps(irreps_in=irreps_in, required_irreps_in=[field])
        self.irreps_out[self.out_field] = self.irreps_in[field]

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        values = data[self.field].to(torch.float64)
        batch = data[keys.BATCH_KEY]
        num_atoms = data[keys.NUM_NODES_KEY]
        result = scatter_sum(values, batch, num_atoms.shape[0])
        if self.reduce == "mean":
            result = result / num_atoms.to(result.dtype).view((-1,) + (1,) * (result.dim() - 1))
        elif self.constant != 1.0:
            result = result * self.constant
        data[self.out_field] = result
        return data
