r"""Per-type scale and shift of a per-atom quantity: :math:`E_i = \alpha_{t_i} \tilde{E}_i + E^0_{t_i}`.

Computed in float64 whatever the model dtype. Scales and shifts are one number (the same
for every type; a faster path without a per-atom lookup when fixed) or a dict with
exactly one value per type name. Lists are refused, as in upstream NequIP 0.19, because
they silently depend on the order of ``type_names``.
"""

from typing import Any, Mapping, Optional, Sequence

import torch

from nequip.data import AtomicDataDict, keys
from nequip.data.fields import get_field_type

from .graph_module import GraphModuleMixin
from .per_type import PerTypeValue, per_type_list

ScaleOrShift = Optional[PerTypeValue]


def _per_type_values(
    value: ScaleOrShift, type_names: Sequence[str], argument: str, trainable: bool
) -> Optional[torch.Tensor]:
    """(1, 1) or (num_types, 1) float64 tensor, or ``None``; one per type when ``trainable``."""
    if value is None:
        return None
    values = per_type_list(value, type_names, argument)
    if trainable and len(values) == 1:
        values = values * len(type_names)
    return torch.tensor(values, dtype=torch.float64).view(-1, 1)


class PerTypeScaleShift(GraphModuleMixin, torch.nn.Module):
    """Scale and shift a per-atom scalar field by per-type parameters (see module docstring).

    Args:
        type_names: atom type names.
        field: input node field, ``0e`` (e.g. ``atomic_energy``).
        out_field: output node field (default ``field``).
        scales: ``alpha``: a number, a dict per type name, or ``None`` (no scaling).
        shifts: ``E0``: a number, a dict per type name, or ``None`` (no shift).
        scales_trainable: learn the scales (one per type).
        shifts_trainable: learn the shifts (one per type).
        irreps_in: fields available before this module.

    Example:
        >>> m = PerTypeScaleShift(["H", "O"], scales=2.0, shifts={"H": -1.0, "O": -5.0},
        ...                       irreps_in={keys.PER_ATOM_ENERGY_KEY: "0e"})
        >>> data = {keys.PER_ATOM_ENERGY_KEY: torch.ones(2, 1), keys.ATOM_TYPE_KEY: torch.tensor([0, 1])}
        >>> m(data)[keys.PER_ATOM_ENERGY_KEY].view(-1).tolist()
        [1.0, -3.0]
    """

    def __init__(
        self,
        type_names: Sequence[str],
        field: str = keys.PER_ATOM_ENERGY_KEY,
        out_field: Optional[str] = None,
        scales: ScaleOrShift = None,
        shifts: ScaleOrShift = None,
        scales_trainable: bool = False,
        shifts_trainable: bool = False,
        irreps_in: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__()
        self.type_names = [str(t) for t in type_names]
        self.field = field
        self.out_field = field if out_field is None else out_field
        for name in (self.field, self.out_field):
            if get_field_type(name) != "node":
                raise ValueError(f"PerTypeScaleShift acts on per-atom (node) fields, got {name!r}")
        self._init_irreps(irreps_in=irreps_in, my_irreps_in={field: "0e"}, required_irreps_in=[field])
        self.irreps_out[self.out_field] = self.irreps_in[field]
        for argument, value, trainable in (("scales", scales, scales_trainable), ("shifts", shifts, shifts_trainable)):
            tensor = _per_type_values(value, self.type_names, argument, trainable)
            if tensor is None and trainable:
                raise ValueError(f"{argument}_trainable=True needs initial {argument}, got None")
            if tensor is None:
                self.register_buffer(argument, torch.zeros(0, 1, dtype=torch.float64))
            elif trainable:
                self.register_parameter(argument, torch.nn.Parameter(tensor))
            else:
                self.register_buffer(argument, tensor)
        self.has_scales, self.has_shifts = scales is not None, shifts is not None

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        values = data[self.field].to(torch.float64)
        if self.has_scales or self.has_shifts:
            types = data[keys.ATOM_TYPE_KEY].view(-1)
            if self.has_scales:
                scales = self.scales if self.scales.shape[0] == 1 else torch.index_select(self.scales, 0, types)
                values = values * scales
            if self.has_shifts:
                shifts = self.shifts if self.shifts.shape[0] == 1 else torch.index_select(self.shifts, 0, types)
                values = values + shifts
        data[self.out_field] = values
        return data

    def extra_repr(self) -> str:
        def fmt(t):
            return "None" if t.numel() == 0 else str([round(v, 6) for v in t.detach().view(-1).tolist()])

        return f"type_names={self.type_names}, scales={fmt(self.scales)}, shifts={fmt(self.shifts)}"
