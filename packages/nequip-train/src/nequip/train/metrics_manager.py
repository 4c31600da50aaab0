"""``MetricsManager``: a set of metrics on fields, serving as a loss or as monitored metrics.

A manager is configured by a list of entries, each a dict with:

* ``field``: a field name (``"forces"``) or a field modifier from :mod:`nequip.data`
  (``PerAtomModifier("total_energy")`` for E/N);
* ``metric``: a metric module (:mod:`nequip.train.metrics`, or any ``torchmetrics``
  metric taking ``(preds, target)``);
* ``coeff`` (optional): its weight in the ``weighted_sum``; the given coefficients are
  normalized to sum to one, entries without one are reported but not summed;
* ``per_type`` (optional, node fields only): also report the metric per atom type, as
  ``NAME_TYPE``; the entry's value is then the mean over types (over the types present, for
  a batch);
* ``per_type_coeffs`` (optional, with ``per_type``): ``{type name: weight > 0}`` for every
  type; the entry's value is then the weighted mean ``sum_t w_t m_t / sum_t w_t`` (equal
  weights give the plain mean);
* ``ignore_nan`` (optional): skip components whose target is NaN (missing labels);
* ``name`` (optional): the reported name, by default ``FIELD_METRIC`` (``forces_mae``).

Used as a loss, the ``weighted_sum`` of a batch is minimized; used as metrics, the
epoch values are logged as e.g. ``val0_epoch/forces_mae`` and ``val0_epoch/weighted_sum``.

Example:
    >>> import torch
    >>> from nequip.train.metrics import MeanAbsoluteError
    >>> manager = MetricsManager([{"field": "forces", "metric": MeanAbsoluteError(), "coeff": 2.0}])
    >>> data = {"forces": torch.ones(4, 3), "batch": torch.zeros(4, dtype=torch.long), "num_atoms": torch.tensor([4])}
    >>> out = manager(data, {**data, "forces": torch.zeros(4, 3)})
    >>> sorted(out), float(out["weighted_sum"])
    (['forces_mae', 'weighted_sum'], 1.0)
"""

import copy
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import torch

from nequip.data import AtomicDataDict, BaseModifier, PerAtomModifier, keys

#: Keys an entry dict may have.
ENTRY_KEYS = ("field", "metric", "coeff", "per_type", "per_type_coeffs", "ignore_nan", "name")
#: The reserved name of the weighted sum of the entries with coefficients.
WEIGHTED_SUM = "weighted_sum"

_ABBREVIATIONS = {
    "MeanAbsoluteError": "mae",
    "MeanSquaredError": "mse",
    "RootMeanSquaredError": "rmse",
    "MaximumAbsoluteError": "maxabserr",
    "HuberLoss": "huber",
    "StratifiedHuberForceLoss": "stratified huber",
}


def _as_modifier(field: Union[str, BaseModifier], index: int) -> BaseModifier:
    if isinstance(field, str):
        return BaseModifier(field)
    if isinstance(field, BaseModifier):
        return field
    raise ValueError(f"metrics entry {index}: field must be a field name or a nequip.data modifier, got {field!r}")


def _field_label(modifier: BaseModifier) -> str:
    """Name of what a modifier reads: ``forces``, ``per_atom_energy`` (E/N), or the modifier's own name."""
    if type(modifier) is BaseModifier:
        return modifier.field
    if type(modifier) is PerAtomModifier:
        field = modifier.field
        return "per_atom_" + (field[len("total_") :] if field.startswith("total_") else field)
    return str(modifier)


class MetricsManager(torch.nn.Module):
    """Metrics on fields of predicted and target data (``AtomicDataDict``; see the module docstring).

    Args:
        metrics: list of entry dicts.
        type_names: the model's type names, needed for ``per_type`` entries.

    Raises:
        ValueError: for unknown entry keys, a missing ``field``/``metric``, repeated or
            reserved names, non-positive coefficients, ``per_type`` on a non-node field or
            without ``type_names``, ``per_type_coeffs`` without ``per_type`` or not giving a
            positive weight to exactly the ``type_names``.

    Attributes:
        metrics_values_step: ``{name: float}`` of the last batch (``None`` before the first
            batch and for entries a batch had no data for), e.g. for :class:`~nequip.train.callbacks.SoftAdapt`.
        metrics_values_epoch: ``{name: float}`` of the last :meth:`compute`.
    """

    def __init__(self, metrics: Sequence[Mapping[str, Any]], type_names: Optional[Sequence[str]] = None) -> None:
        super().__init__()
        if isinstance(metrics, Mapping) or not isinstance(metrics, Sequence) or len(metrics) == 0:
            raise ValueError(f"metrics must be a non-empty list of entry dicts, got {metrics!r}")
        self.type_names = None if type_names is None else list(type_names)
        self.names: List[str] = []
        self.modifiers: Dict[str, BaseModifier] = {}
        self.per_type: Dict[str, bool] = {}
        self.per_type_coeffs: Dict[str, Optional[List[float]]] = {}
        self.ignore_nan: Dict[str, bool] = {}
        self.metrics = torch.nn.ModuleDict()
        raw_coeffs: Dict[str, Optional[float]] = {}
        for index, entry in enumerate(metrics):
            self._add_entry(index, entry, raw_coeffs)
        self.coeffs: Dict[str, Optional[float]] = {}
        self.set_coeffs(raw_coeffs)
        self.metrics_values_step: Dict[str, Optional[float]] = {name: None for name in self.names}
        self.metrics_values_epoch: Dict[str, Optional[float]] = {name: None for name in self.names}

    def _add_entry(self, index: int, entry: Mapping[str, Any], raw_coeffs: Dict[str, Optional[float]]) -> None:
        if not isinstance(entry, Mapping):
            raise ValueError(f"metrics entry {index} must be a dict with keys {list(ENTRY_KEYS)}, got {entry!r}")
        unknown = sorted(set(entry) - set(ENTRY_KEYS))
        if unknown:
            raise ValueError(f"metrics entry {index} has unknown keys {unknown}; allowed are {list(ENTRY_KEYS)}")
        for required in ("field", "metric"):
            if entry.get(required) is None:
                raise ValueError(f"metrics entry {index} needs a {required!r}")
        modifier = _as_modifier(entry["field"], index)
        metric = entry["metric"]
        if not isinstance(metric, torch.nn.Module):
            raise ValueError(
                f"metrics entry {index}: metric must be a metric module (e.g. nequip.train.MeanAbsoluteError), got {metric!r}"
            )
        name = (
            entry.get("name")
            or f"{_field_label(modifier)}_{_ABBREVIATIONS.get(type(metric).__name__, type(metric).__name__)}"
        )
        if name == WEIGHTED_SUM or name in self.names:
            raise ValueError(f"metrics entry {index}: name {name!r} is reserved or repeated; give a unique `name`")
        per_type = bool(entry.get("per_type", False))
        if per_type:
            if modifier.type != "node":
                raise ValueError(
                    f"metrics entry {name!r}: per_type needs a node field, {modifier} is a {modifier.type} field"
                )
            if not self.type_names:
                raise ValueError(f"metrics entry {name!r}: per_type needs the manager's type_names")
            module = torch.nn.ModuleList([copy.deepcopy(metric) for _ in self.type_names])
        else:
            module = metric
        self.names.append(name)
        self.modifiers[name] = modifier
        self.per_type[name] = per_type
        self.per_type_coeffs[name] = self._per_type_weights(name, per_type, entry.get("per_type_coeffs"))
        self.ignore_nan[name] = bool(entry.get("ignore_nan", False))
        self.metrics[name] = module
        raw_coeffs[name] = entry.get("coeff")

    def _per_type_weights(self, name: str, per_type: bool, weights: Any) -> Optional[List[float]]:
        """``per_type_coeffs`` as a list in the order of ``type_names`` (``None`` for equal weights)."""
        if weights is None:
            return None
        if not per_type:
            raise ValueError(f"metrics entry {name!r}: per_type_coeffs needs per_type: true")
        if not isinstance(weights, Mapping):
            raise ValueError(f"metrics entry {name!r}: per_type_coeffs must be {{type name: weight}}, got {weights!r}")
        unknown, missing = sorted(set(weights) - set(self.type_names)), sorted(set(self.type_names) - set(weights))
        if unknown or missing:
            raise ValueError(
                f"metrics entry {name!r}: per_type_coeffs must give a weight to each of the type names "
                f"{self.type_names}; unknown {unknown}, missing {missing}"
            )
        out = []
        for type_name in self.type_names:
            value = weights[type_name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"metrics entry {name!r}: per_type_coeffs[{type_name!r}] must be > 0, got {value!r}")
            out.append(float(value))
        return out

    def _type_mean(self, name: str, values: List[torch.Tensor], type_indices: List[int]) -> torch.Tensor:
        """Mean of the per-type values of entry ``name`` (weighted by its ``per_type_coeffs``)."""
        weights = self.per_type_coeffs[name]
        if weights is None:
            return torch.stack(values).mean()
        chosen = torch.tensor([weights[i] for i in type_indices], dtype=values[0].dtype, device=values[0].device)
        return (torch.stack(values) * chosen).sum() / chosen.sum()

    # === coefficients ===

    def set_coeffs(self, coeffs: Mapping[str, Optional[float]]) -> None:
        """Set the coefficients (normalized to sum to one over those not ``None``).

        Args:
            coeffs: ``{name: coefficient or None}``; names not given keep their relative value
                of before (only on a later call), new names must be entries of this manager.

        Raises:
            ValueError: for unknown names or a negative coefficient, or if all are zero.
        """
        unknown = sorted(set(coeffs) - set(self.names))
        if unknown:
            raise ValueError(f"coeffs names {unknown} are not metrics of this manager; its metrics are {self.names}")
        merged = {name: self.coeffs.get(name) if hasattr(self, "coeffs") else None for name in self.names}
        merged.update(coeffs)
        for name, value in merged.items():
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
                raise ValueError(f"coeff of {name!r} must be a non-negative number or None, got {value!r}")
        total = sum(value for value in merged.values() if value is not None)
        if any(value is not None for value in merged.values()) and total <= 0:
            raise ValueError(f"the coefficients {merged} sum to zero; at least one must be positive")
        self.coeffs = {name: (None if value is None else float(value) / total) for name, value in merged.items()}

    @property
    def required_fields(self) -> List[str]:
        """Fields the entries read from the target data (to check a data set before training)."""
        return sorted(
            {field for modifier in self.modifiers.values() for field in modifier.required_fields} - {keys.NUM_NODES_KEY}
        )

    # === evaluation ===

    def _pairs(self, name: str, preds: AtomicDataDict.Type, target: AtomicDataDict.Type):
        """``[(metric, pred, target)]`` for one entry; per-type entries give one per type."""
        pred_value, target_value = self.modifiers[name](preds, target)
        if self.ignore_nan[name]:
            keep = ~torch.isnan(target_value)
        else:
            keep = None
        if not self.per_type[name]:
            if keep is not None:
                pred_value, target_value = pred_value[keep], target_value[keep]
            return [(self.metrics[name], pred_value, target_value)]
        types = target[keys.ATOM_TYPE_KEY]
        out = []
        for type_index, metric in enumerate(self.metrics[name]):
            mask = types == type_index
            p, t = pred_value[mask], target_value[mask]
            if keep is not None:
                k = keep[mask]
                p, t = p[k], t[k]
            out.append((metric, p, t))
        return out

    def forward(
        self, preds: AtomicDataDict.Type, target: AtomicDataDict.Type, prefix: str = "", suffix: str = ""
    ) -> Dict[str, torch.Tensor]:
        """Accumulate a batch and return its values ``{prefix NAME suffix: tensor}`` (and ``weighted_sum``)."""
        out: Dict[str, torch.Tensor] = {}
        values: Dict[str, torch.Tensor] = {}
        self.metrics_values_step = {name: None for name in self.names}
        for name in self.names:
            results, present = [], []
            for type_index, (metric, p, t) in enumerate(self._pairs(name, preds, target)):
                if p.numel() == 0:
                    continue
                value = metric(p, t)
                results.append(value)
                present.append(type_index)
                if self.per_type[name]:
                    out[f"{prefix}{name}_{self.type_names[type_index]}{suffix}"] = value
            if results:
                values[name] = self._type_mean(name, results, present) if self.per_type[name] else results[0]
                out[f"{prefix}{name}{suffix}"] = values[name]
                self.metrics_values_step[name] = float(values[name].detach())
        weighted = self._weighted_sum(values)
        if weighted is not None:
            out[f"{prefix}{WEIGHTED_SUM}{suffix}"] = weighted
        return out

    def _weighted_sum(self, values: Mapping[str, torch.Tensor]) -> Optional[torch.Tensor]:
        terms = [
            self.coeffs[name] * values[name] for name in self.names if self.coeffs[name] is not None and name in values
        ]
        if not terms:
            return None
        return torch.stack([term.to(torch.float64) for term in terms]).sum()

    def compute(self, prefix: str = "", suffix: str = "") -> Dict[str, torch.Tensor]:
        """Epoch values ``{prefix NAME suffix: tensor}`` of everything accumulated since the last reset."""
        out: Dict[str, torch.Tensor] = {}
        values: Dict[str, torch.Tensor] = {}
        for name in self.names:
            if self.per_type[name]:
                per_type, present = [], []
                for type_index, (type_name, metric) in enumerate(zip(self.type_names, self.metrics[name])):
                    value = metric.compute().to(torch.float64)
                    out[f"{prefix}{name}_{type_name}{suffix}"] = value
                    if not torch.isnan(value):
                        per_type.append(value)
                        present.append(type_index)
                values[name] = (
                    self._type_mean(name, per_type, present)
                    if per_type
                    else torch.tensor(float("nan"), dtype=torch.float64)
                )
            else:
                values[name] = self.metrics[name].compute().to(torch.float64)
            out[f"{prefix}{name}{suffix}"] = values[name]
        self.metrics_values_epoch = {name: float(values[name]) for name in self.names}
        weighted = self._weighted_sum(values)
        if weighted is not None:
            out[f"{prefix}{WEIGHTED_SUM}{suffix}"] = weighted
        return out

    def reset(self) -> None:
        """Forget what was accumulated (at the start of an epoch)."""
        for name in self.names:
            modules = self.metrics[name] if self.per_type[name] else [self.metrics[name]]
            for metric in modules:
                metric.reset()

    def get_extra_state(self) -> Dict[str, Any]:
        """The coefficients, saved in checkpoints (they may be changed by a schedule)."""
        return {"coeffs": dict(self.coeffs)}

    def set_extra_state(self, state: Mapping[str, Any]) -> None:
        """Restore the coefficients of a checkpoint."""
        self.coeffs = dict(state["coeffs"])
