"""Field modifiers: what a statistic (or a training metric) reads from an ``AtomicDataDict``.

A modifier maps ``data -> tensor`` (or ``(data1, data2) -> (tensor1, tensor2)`` for a
prediction and a target, as training metrics need). It also says

- ``type``: whether its output is a ``"node"``, ``"edge"`` or ``"graph"`` quantity,
  which decides how per-type statistics are split;
- ``required_fields``: the fields it reads, so that a frame lacking one is reported
  clearly;
- ``str()``: a short name used for automatic statistic and metric names.
"""

from typing import Optional, Tuple, Union

import torch

from .. import AtomicDataDict, keys
from ..fields import get_field_type

_Output = Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]


class BaseModifier:
    """Plain access to one field (e.g. ``forces``, ``total_energy``).

    Args:
        field: name of the field.

    Example:
        >>> import ase.build
        >>> from nequip.data import from_ase
        >>> BaseModifier("pos")(from_ase(ase.build.molecule("H2O"))).shape
        torch.Size([3, 3])
    """

    def __init__(self, field: str) -> None:
        if not isinstance(field, str) or not field:
            raise ValueError(f"field must be a non-empty field name, got {field!r}")
        self.field = field

    def _func(self, data: AtomicDataDict.Type) -> torch.Tensor:
        return data[self.field]

    def __call__(self, data1: AtomicDataDict.Type, data2: Optional[AtomicDataDict.Type] = None) -> _Output:
        if data2 is None:
            return self._func(data1)
        return self._func(data1), self._func(data2)

    @property
    def required_fields(self) -> Tuple[str, ...]:
        """Fields this modifier reads."""
        return (self.field,)

    @property
    def type(self) -> str:
        """``"node"``, ``"edge"`` or ``"graph"``: where the output lives."""
        return get_field_type(self.field)

    def __str__(self) -> str:
        return keys.ABBREV.get(self.field, self.field)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.field!r})"


class PerAtomModifier(BaseModifier):
    """A per-frame field divided by the number of atoms of the frame (e.g. E/N).

    Args:
        field: a per-frame (graph) field, e.g. ``total_energy``.
        factor: optional constant multiplying the result (e.g. a unit conversion).

    Example:
        >>> data = {"total_energy": torch.tensor([[6.0], [9.0]]), "num_atoms": torch.tensor([2, 3])}
        >>> PerAtomModifier("total_energy")(data).flatten().tolist()
        [3.0, 3.0]
    """

    def __init__(self, field: str, factor: Optional[float] = None) -> None:
        super().__init__(field)
        kind = get_field_type(field)
        if kind != "graph":
            raise ValueError(
                f"PerAtomModifier: field {field!r} is a {kind} field; only per-frame (graph) fields "
                "can be divided by the number of atoms"
            )
        self._factor = None if factor is None else float(factor)

    def _func(self, data: AtomicDataDict.Type) -> torch.Tensor:
        value = data[self.field]
        num_atoms = data[keys.NUM_NODES_KEY].to(value.dtype)
        out = value / num_atoms.reshape((-1,) + (1,) * (value.dim() - 1))
        return out if self._factor is None else self._factor * out

    @property
    def required_fields(self) -> Tuple[str, ...]:
        """Fields this modifier reads."""
        return (self.field, keys.NUM_NODES_KEY)

    def __str__(self) -> str:
        return "per_atom_" + super().__str__()

    def __repr__(self) -> str:
        return f"PerAtomModifier({self.field!r}, factor={self._factor})"


class MappedFieldModifier(BaseModifier):
    """Prediction read from one field and target from another (for training metrics).

    With a single dict it returns the ``pred_field`` entry.

    Args:
        pred_field: field read from the prediction dict.
        target_field: field read from the target dict; same kind (node/edge/graph).
    """

    def __init__(self, pred_field: str, target_field: str) -> None:
        super().__init__(pred_field)
        if not isinstance(target_field, str) or not target_field:
            raise ValueError(f"target_field must be a non-empty field name, got {target_field!r}")
        pred_type, target_type = get_field_type(pred_field), get_field_type(target_field)
        if pred_type != target_type:
            raise ValueError(
                f"MappedFieldModifier: pred_field {pred_field!r} is a {pred_type} field but "
                f"target_field {target_field!r} is a {target_type} field; they must be of the same kind"
            )
        self.pred_field = pred_field
        self.target_field = target_field

    def __call__(self, data1: AtomicDataDict.Type, data2: Optional[AtomicDataDict.Type] = None) -> _Output:
        if data2 is None:
            return data1[self.pred_field]
        return data1[self.pred_field], data2[self.target_field]

    def __str__(self) -> str:
        pred = keys.ABBREV.get(self.pred_field, self.pred_field)
        target = keys.ABBREV.get(self.target_field, self.target_field)
        return f"pred_{pred}_label_{target}"

    def __repr__(self) -> str:
        return f"MappedFieldModifier({self.pred_field!r}, {self.target_field!r})"


class EdgeLengths(BaseModifier):
    """Length ``|r_ij|`` of every edge, (E,), in the data's length unit.

    Needs a neighbor list (``edge_index``; ``edge_cell_shift`` and ``cell`` if periodic).
    The input dict is not modified.
    """

    def __init__(self) -> None:
        super().__init__(keys.EDGE_INDEX_KEY)

    def _func(self, data: AtomicDataDict.Type) -> torch.Tensor:
        return AtomicDataDict.with_edge_vectors_(dict(data), with_lengths=True)[keys.EDGE_LENGTH_KEY]

    @property
    def required_fields(self) -> Tuple[str, ...]:
        """Fields this modifier reads."""
        return (keys.EDGE_INDEX_KEY, keys.POSITIONS_KEY)

    @property
    def type(self) -> str:
        """Always ``"edge"``."""
        return "edge"

    def __str__(self) -> str:
        return "edge_lengths"

    def __repr__(self) -> str:
        return "EdgeLengths()"


class NumNeighbors(BaseModifier):
    """Number of neighbors of every atom, (N,) float64.

    Counts the directed edges centered on each atom (``edge_index[0] == i``), periodic
    images included; atoms without neighbors count 0. Its mean over the training atoms is
    ``avg_num_neighbors``.

    Example:
        >>> data = {"pos": torch.zeros(3, 3), "edge_index": torch.tensor([[0, 0, 2], [2, 2, 0]])}
        >>> NumNeighbors()(data).tolist()
        [2.0, 0.0, 1.0]
    """

    def __init__(self) -> None:
        super().__init__(keys.EDGE_INDEX_KEY)

    def _func(self, data: AtomicDataDict.Type) -> torch.Tensor:
        n_atoms = data[keys.POSITIONS_KEY].shape[0]
        centers = data[keys.EDGE_INDEX_KEY][0]
        return torch.bincount(centers, minlength=n_atoms).to(torch.float64)

    @property
    def required_fields(self) -> Tuple[str, ...]:
        """Fields this modifier reads."""
        return (keys.EDGE_INDEX_KEY, keys.POSITIONS_KEY)

    @property
    def type(self) -> str:
        """Always ``"node"``."""
        return "node"

    def __str__(self) -> str:
        return "num_neighbors"

    def __repr__(self) -> str:
        return "NumNeighbors()"
