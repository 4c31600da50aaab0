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
from .model_modifier_utils import model_modifier, replace_submodules
from .per_type import PerTypeValue, as_float, per_type_list

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

    @model_modifier(persistent=True)
    @classmethod
    def modify_PerTypeScaleShift(
        cls,
        model: torch.nn.Module,
        scales: ScaleOrShift = None,
        shifts: ScaleOrShift = None,
        scales_trainable: bool = False,
        shifts_trainable: bool = False,
    ) -> torch.nn.Module:
        """Model modifier: give every ``PerTypeScaleShift`` of ``model`` new scales and/or shifts (in place).

        For fine-tuning on data whose reference energies differ from the pretraining data's
        (e.g. another DFT code): ``shifts`` are then the new isolated-atom energies, or a fit
        of the new data such as ``${training_data_stats:per_type_atom_energy_lstsq}``.

        Args:
            model: the model to change.
            scales: a number for every type, a dict for some of the type names (the others
                keep their values), or ``None`` to keep the current scales.
            shifts: the same for the shifts.
            scales_trainable: whether the scales are learned from now on.
            shifts_trainable: whether the shifts are learned from now on.

        Returns:
            ``model``.

        Raises:
            ValueError: for a type name the model does not have (a fine-tuned model keeps the
                pretrained model's types) or a value that is not a number or a dict.
        """

        def updated(old: "PerTypeScaleShift", argument: str, new: ScaleOrShift, identity: float):
            current = getattr(old, argument).detach().view(-1).tolist()
            if new is None:  # keep: one number stays one number
                return None if not current else current[0] if len(current) == 1 else dict(zip(old.type_names, current))
            if len(current) == 1:
                current = current * len(old.type_names)
            values = dict(zip(old.type_names, current)) if current else None
            if as_float(new) is not None:
                return as_float(new)
            if not isinstance(new, Mapping):
                raise ValueError(
                    f"modify_PerTypeScaleShift: {argument} must be a number or a dict {{type name: number}}, "
                    f"got {type(new).__name__} {new!r}"
                )
            unknown = [name for name in new if name not in old.type_names]
            if unknown:
                raise ValueError(
                    f"modify_PerTypeScaleShift: {argument} has type names {unknown} that the model does not have "
                    f"(its type_names: {old.type_names}); a fine-tuned model keeps the types of the pretrained model: "
                    "map the data's species onto them or leave those frames out, or train a new model for new types"
                )
            values = values or {name: identity for name in old.type_names}
            values.update(new)
            return values

        def factory(old: "PerTypeScaleShift") -> "PerTypeScaleShift":
            new = cls(
                type_names=old.type_names,
                field=old.field,
                out_field=old.out_field,
                scales=updated(old, "scales", scales, 1.0),
                shifts=updated(old, "shifts", shifts, 0.0),
                scales_trainable=scales_trainable,
                shifts_trainable=shifts_trainable,
                irreps_in=old.irreps_in,
            )
            return new.to(old.shifts.device)

        return replace_submodules(model, cls, factory)

    def extra_repr(self) -> str:
        def fmt(t):
            return "None" if t.numel() == 0 else str([round(v, 6) for v in t.detach().view(-1).tolist()])

        return f"type_names={self.type_names}, scales={fmt(self.scales)}, shifts={fmt(self.shifts)}"
