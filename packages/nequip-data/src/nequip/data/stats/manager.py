"""``DataStatisticsManager``: computes named dataset statistics (e.g. ``num_neighbors_mean``).

The statistics feed model hyperparameters through ``${training_data_stats:NAME}``; see
:func:`lookup_statistic` for the lookup with a helpful error.
"""

import enum
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import torch
from torchmetrics import Metric
from tqdm.auto import tqdm

from .. import AtomicDataDict, keys
from .lstsq import CompositionLeastSquares
from .modifiers import BaseModifier

logger = logging.getLogger(__name__)

Statistics = Dict[str, Union[float, Dict[str, float]]]

_ENTRY_KEYS = ("field", "metric", "per_type", "ignore_nan", "name")
_FORBIDDEN_LOADER_KEYS = ("dataset", "collate_fn", "generator")


class Grouping(enum.Enum):
    """How the entries of a statistic are grouped."""

    WHOLE = "whole"  #: one value over all entries
    NODE_TYPE = "node_type"  #: one value per atom type (a node field)
    EDGE_TYPE_PAIR = "edge_type_pair"  #: one value per (center type, neighbor type) pair (an edge field)
    COMPOSITION = "composition"  #: per-type least-squares fit of a per-frame field


@dataclass(frozen=True, eq=False)
class Statistic:
    """One statistic of a :class:`DataStatisticsManager`.

    Attributes:
        name: the statistic's name.
        field: the modifier that reads the values from the data (``data -> tensor``).
        metric: the metric; for ``NODE_TYPE`` and ``EDGE_TYPE_PAIR`` a ``ModuleList`` with
            one metric per type (per type pair, center-major).
        grouping: how the values are grouped.
        ignore_nan: whether NaN entries are dropped (otherwise they are an error).
    """

    name: str
    field: Callable[[AtomicDataDict.Type], torch.Tensor]
    metric: torch.nn.Module
    grouping: Grouping
    ignore_nan: bool


class MissingFieldError(KeyError):
    """A frame lacks a field a statistic needs, or a statistic was not computed.

    A ``KeyError`` whose message prints as written (no quoting).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def lookup_statistic(stats: Mapping, name: str) -> Any:
    """Return ``stats[name]``, or raise ``KeyError`` listing the statistics that were computed.

    This is the lookup behind ``${training_data_stats:NAME}``.

    Example:
        >>> lookup_statistic({"forces_rms": 1.5}, "forces_rms")
        1.5
    """
    if name not in stats:
        raise MissingFieldError(
            f"dataset statistic {name!r} was not computed; available statistics: {sorted(stats)}. "
            "Add it to the `stats_manager` metrics (or fix the name)."
        )
    return stats[name]


def _frame_label(data: AtomicDataDict.Type, batch_index: Optional[int]) -> str:
    if keys.FRAME_INDEX_KEY in data:
        return f"frame(s) {data[keys.FRAME_INDEX_KEY].reshape(-1).tolist()}"
    where = "a batch" if batch_index is None else f"batch {batch_index}"
    return f"{where} of the data source (its frames have no {keys.FRAME_INDEX_KEY!r} field)"


class DataStatisticsManager(torch.nn.Module):
    """Computes named statistics of a data set, streaming over frames or batches.

    Each entry of ``metrics`` is a dict with

    - ``field``: a field name (``forces``) or a modifier (``NumNeighbors()``,
      ``PerAtomModifier("total_energy")``, ``EdgeLengths()``, ...);
    - ``metric``: a :class:`torchmetrics.Metric` such as :class:`Mean`,
      :class:`RootMeanSquare`, :class:`StandardDeviation`, or
      :class:`CompositionLeastSquares` (per-type fit of a per-frame field);
    - ``per_type`` (default ``False``): split a node field by atom type (or an edge field by
      (center, neighbor) type pair); the value is a dict keyed by type name (by
      ``"A_B"`` for pairs). Not allowed for per-frame fields, except with
      :class:`CompositionLeastSquares`, which is always per type;
    - ``ignore_nan`` (default ``False``): drop NaN entries (frames, for a per-frame fit).
      Without it a NaN entry is an error; a missing field is an error either way;
    - ``name``: the statistic's name (default ``"<field>_<metric>"``, with a
      ``per_type_`` prefix for per-type entries). Names must be unique.

    Per-type results are also available flattened, as upstream NequIP does:
    ``NAME_TYPE`` for node fields and ``NAME_AB`` for edge type pairs. A type without any
    (non-NaN) entry gets the metric's empty value (NaN for means) and a warning.

    Args:
        metrics: the statistics to compute, as above.
        dataloader_kwargs: keyword arguments of :class:`torch.utils.data.DataLoader` used
            by :meth:`dataloader` (e.g. ``batch_size``; larger is faster, results do not
            depend on it). ``dataset``, ``collate_fn`` and ``generator`` are set elsewhere.
        type_names: the model's type names, in order; needed by per-type statistics.

    Example:
        >>> from nequip.data.stats import Mean
        >>> data = {"total_energy": torch.tensor([[1.0], [3.0]]), "num_atoms": torch.tensor([1, 1])}
        >>> manager = DataStatisticsManager([{"field": "total_energy", "metric": Mean(), "name": "e"}])
        >>> manager.get_statistics([data])
        {'e': 2.0}
    """

    def __init__(
        self,
        metrics: Sequence[Mapping[str, Any]],
        dataloader_kwargs: Optional[Mapping[str, Any]] = None,
        type_names: Optional[Sequence[str]] = None,
    ):
        super().__init__()
        if isinstance(metrics, (str, Mapping)) or not isinstance(metrics, Sequence) or len(metrics) == 0:
            raise ValueError(f"metrics must be a non-empty list of dicts, got {metrics!r}")
        self.dataloader_kwargs = dict(dataloader_kwargs) if dataloader_kwargs is not None else {}
        bad = [k for k in _FORBIDDEN_LOADER_KEYS if k in self.dataloader_kwargs]
        if bad:
            raise ValueError(f"dataloader_kwargs must not set {bad}: the statistics manager sets them")
        if type_names is not None:
            if isinstance(type_names, str) or not all(isinstance(t, str) for t in type_names):
                raise ValueError(f"type_names must be a list of strings, got {type_names!r}")
            type_names = list(type_names)
            if len(set(type_names)) != len(type_names) or len(type_names) == 0:
                raise ValueError(f"type_names must be non-empty and without repeats, got {type_names}")
        self.type_names: Optional[List[str]] = type_names

        self.statistics: List[Statistic] = [self._statistic(i, entry) for i, entry in enumerate(metrics)]
        # the same metric modules, registered so that .to(device) and state_dict() reach them
        self.metrics = torch.nn.ModuleList([statistic.metric for statistic in self.statistics])
        self._check_names()
        self.stats_dict: Statistics = {}

    @property
    def names(self) -> List[str]:
        """The statistics' names, in order."""
        return [statistic.name for statistic in self.statistics]

    def _statistic(self, i: int, entry: Mapping[str, Any]) -> Statistic:
        if not isinstance(entry, Mapping):
            raise ValueError(f"metrics[{i}] must be a dict with keys {list(_ENTRY_KEYS)}, got {entry!r}")
        unknown = [k for k in entry.keys() if k not in _ENTRY_KEYS]
        missing = [k for k in ("field", "metric") if k not in entry]
        if unknown or missing:
            raise ValueError(
                f"metrics[{i}] has unknown keys {unknown} / lacks keys {missing}; "
                f"allowed keys: {list(_ENTRY_KEYS)} (field and metric are required)"
            )
        field = entry["field"]
        field = BaseModifier(field) if isinstance(field, str) else field
        if not callable(field):
            raise ValueError(f"metrics[{i}]['field'] must be a field name or a modifier, got {field!r}")
        metric = entry["metric"]
        if not isinstance(metric, Metric):
            raise ValueError(f"metrics[{i}]['metric'] must be a torchmetrics.Metric (e.g. Mean()), got {metric!r}")
        per_type, ignore_nan = entry.get("per_type", False), entry.get("ignore_nan", False)
        for key, flag in (("per_type", per_type), ("ignore_nan", ignore_nan)):
            if not isinstance(flag, bool):
                raise ValueError(f"metrics[{i}]['{key}'] must be true or false, got {flag!r}")
        composition = isinstance(metric, CompositionLeastSquares)
        name = entry.get("name")
        if name is None:
            name = f"{field}_{metric}"
            name = f"per_type_{name}" if (per_type or composition) else name
        if not isinstance(name, str) or not name:
            raise ValueError(f"metrics[{i}]['name'] must be a non-empty string, got {name!r}")

        grouping = Grouping.WHOLE
        if per_type or composition:
            if self.type_names is None:
                raise ValueError(f"statistic {name!r} is per type, so type_names must be given (got None)")
            field_type = field.type
            if composition:
                if field_type != "graph":
                    raise ValueError(
                        f"statistic {name!r}: {type(metric).__name__} fits a per-frame (graph) field, "
                        f"but field {field} is a {field_type} field"
                    )
                metric.bind_type_names(self.type_names)
                grouping = Grouping.COMPOSITION
            elif field_type in ("node", "edge"):
                grouping = Grouping.NODE_TYPE if field_type == "node" else Grouping.EDGE_TYPE_PAIR
                metric = torch.nn.ModuleList([metric.clone() for _ in self._type_keys(grouping)])
            else:
                raise ValueError(
                    f"statistic {name!r}: per_type needs a node or edge field, but {field} is a "
                    f"{field_type} field (allowed for per-frame fields: CompositionLeastSquares)"
                )
        return Statistic(name=name, field=field, metric=metric, grouping=grouping, ignore_nan=ignore_nan)

    def _type_keys(self, grouping: Grouping) -> List[Tuple[str, str]]:
        """(dict key, flat-name suffix) of each per-type slot, in slot order."""
        if grouping is Grouping.WHOLE:
            return []
        if grouping is Grouping.EDGE_TYPE_PAIR:
            return [(f"{a}_{b}", a + b) for a in self.type_names for b in self.type_names]
        return [(t, t) for t in self.type_names]

    def _check_names(self) -> None:
        names = self.names
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"statistic names must be unique; repeated: {repeated} (all names: {names})")
        flat = [f"{s.name}_{suffix}" for s in self.statistics for _, suffix in self._type_keys(s.grouping)]
        clash = sorted(set(flat) & set(names)) + sorted({n for n in flat if flat.count(n) > 1})
        if clash:
            raise ValueError(f"statistic names {clash} clash with flattened per-type names; rename them")

    def _values(self, statistic: Statistic, data: AtomicDataDict.Type, batch_index: Optional[int]) -> torch.Tensor:
        field, name = statistic.field, statistic.name
        required = list(getattr(field, "required_fields", ()))
        if statistic.grouping is not Grouping.WHOLE:
            required += [keys.ATOM_TYPE_KEY]
        if statistic.grouping is Grouping.COMPOSITION:
            required += [keys.BATCH_KEY, keys.NUM_NODES_KEY]
        if statistic.grouping is Grouping.EDGE_TYPE_PAIR:
            required += [keys.EDGE_INDEX_KEY]
        missing = [f for f in dict.fromkeys(required) if f not in data]
        error = None
        if not missing:
            try:
                return field(data)
            except KeyError as err:
                missing, error = [err.args[0] if err.args else "?"], err
        hint = " (add a NeighborListTransform to the data set)" if keys.EDGE_INDEX_KEY in missing else ""
        raise MissingFieldError(
            f"statistic {name!r} needs field(s) {missing}{hint}, which {_frame_label(data, batch_index)} "
            f"lacks; fields present: {sorted(data)}"
        ) from error

    def update(self, data: AtomicDataDict.Type, batch_index: Optional[int] = None) -> None:
        """Add one frame or batch to every statistic.

        Args:
            data: an ``AtomicDataDict`` (a frame or a batch).
            batch_index: position of ``data`` in its data source, used in error messages
                when the frames have no ``frame_index``.
        """
        types = None
        if any(s.grouping is not Grouping.WHOLE for s in self.statistics) and keys.ATOM_TYPE_KEY in data:
            types = data[keys.ATOM_TYPE_KEY].reshape(-1)
            if types.numel() > 0 and (int(types.min()) < 0 or int(types.max()) >= len(self.type_names)):
                raise ValueError(
                    f"{_frame_label(data, batch_index)} has atom_types {sorted(set(types.tolist()))} outside "
                    f"0..{len(self.type_names) - 1} (type_names {self.type_names})"
                )
        for statistic in self.statistics:
            name, field, metric, grouping = statistic.name, statistic.field, statistic.metric, statistic.grouping
            values = self._values(statistic, data, batch_index)
            nan = torch.isnan(values) if values.is_floating_point() else torch.zeros_like(values, dtype=torch.bool)
            if not statistic.ignore_nan and bool(nan.any()):
                raise ValueError(
                    f"statistic {name!r}: {field} has NaN entries in {_frame_label(data, batch_index)}; "
                    "set ignore_nan: true for this statistic to skip them"
                )
            if grouping is Grouping.WHOLE:
                metric.update(values[~nan])
            elif grouping is Grouping.COMPOSITION:
                num_frames = int(data[keys.NUM_NODES_KEY].shape[0])
                if values.numel() != num_frames:
                    raise ValueError(
                        f"statistic {name!r}: {field} must have one value per frame, got shape "
                        f"{tuple(values.shape)} for {num_frames} frames"
                    )
                num_types = len(self.type_names)
                flat = data[keys.BATCH_KEY].reshape(-1) * num_types + types
                counts = torch.bincount(flat, minlength=num_frames * num_types).reshape(num_frames, num_types)
                keep = ~nan.reshape(num_frames, -1).any(dim=1)
                metric.update(values.reshape(-1)[keep], counts[keep])
            else:
                slots = types
                if grouping is Grouping.EDGE_TYPE_PAIR:
                    edge_index = data[keys.EDGE_INDEX_KEY]
                    slots = types[edge_index[0]] * len(self.type_names) + types[edge_index[1]]
                if values.shape[0] != slots.shape[0]:
                    raise ValueError(
                        f"statistic {name!r}: {field} has {values.shape[0]} rows but the data have "
                        f"{slots.shape[0]} {'atoms' if grouping is Grouping.NODE_TYPE else 'edges'}"
                    )
                for slot, slot_metric in enumerate(metric):
                    select = slots == slot
                    slot_metric.update(values[select][~nan[select]])

    def forward(self, data: AtomicDataDict.Type) -> None:
        """Same as :meth:`update`."""
        self.update(data)

    def reset(self) -> None:
        """Forget all accumulated data."""
        for metric in self.metrics:
            for m in metric if isinstance(metric, torch.nn.ModuleList) else [metric]:
                m.reset()
        self.stats_dict = {}

    def compute(self) -> Statistics:
        """Finish the statistics; also stored as ``stats_dict``.

        Returns:
            name -> python float, or for per-type statistics name -> {type name: float},
            followed by the flattened per-type entries ``NAME_TYPE``.
        """
        stats: Statistics = {}
        flat: Dict[str, float] = {}
        for statistic in self.statistics:
            name, metric, grouping = statistic.name, statistic.metric, statistic.grouping
            if grouping is Grouping.WHOLE:
                stats[name] = metric.compute().item()
                continue
            if grouping is Grouping.COMPOSITION:
                values = metric.compute().reshape(-1).tolist()
            else:
                values = [m.compute().item() for m in metric]
            slots = self._type_keys(grouping)
            stats[name] = {key: float(v) for (key, _), v in zip(slots, values)}
            flat.update({f"{name}_{suffix}": float(v) for (_, suffix), v in zip(slots, values)})
            empty = [key for (key, _), v in zip(slots, values) if not math.isfinite(v)]
            if empty:
                logger.warning(f"statistic {name!r}: no (non-NaN) data for {empty}; their values are not finite")
        for name in self.names:
            logger.info(f"dataset statistic {name}: {stats[name]}")
        stats.update(flat)
        self.stats_dict = stats
        return stats

    def get_statistics(self, data_source: Iterable[AtomicDataDict.Type]) -> Statistics:
        """Compute the statistics over ``data_source`` (frames or batches), from scratch.

        Args:
            data_source: any iterable of ``AtomicDataDict`` (a list of frames, a
                :class:`~torch.utils.data.DataLoader`, ...). A progress bar is shown on a
                terminal.

        Returns:
            the statistics, as :meth:`compute`.
        """
        self.reset()
        num_batches = 0
        bar = tqdm(data_source, desc="dataset statistics", unit="batch", disable=None, leave=False)
        for batch_index, data in enumerate(bar):
            self.update(data, batch_index=batch_index)
            num_batches += 1
        if num_batches == 0:
            raise ValueError("cannot compute dataset statistics: the data source is empty")
        return self.compute()

    def dataloader(self, dataset: torch.utils.data.Dataset, **overrides: Any) -> torch.utils.data.DataLoader:
        """A DataLoader over ``dataset`` with ``dataloader_kwargs`` (then ``overrides``) that
        collates frames with ``AtomicDataDict.batched_from_list``."""
        kwargs = {**self.dataloader_kwargs, **overrides}
        return torch.utils.data.DataLoader(dataset, collate_fn=AtomicDataDict.batched_from_list, **kwargs)

    def get_dataset_statistics(self, dataset: torch.utils.data.Dataset) -> Statistics:
        """:meth:`get_statistics` over ``dataset`` batched by :meth:`dataloader`."""
        return self.get_statistics(self.dataloader(dataset))

    def statistic(self, name: str) -> Any:
        """A computed statistic by name; ``KeyError`` listing the available names if absent."""
        return lookup_statistic(self.stats_dict, name)
