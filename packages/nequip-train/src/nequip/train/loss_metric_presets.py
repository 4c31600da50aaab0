"""Ready-made losses and metrics for energies, forces and stress (upstream NequIP's names).

Losses are mean squared errors: ``per_atom_energy_mse`` (or ``total_energy_mse`` with
``per_atom_energy: false``), ``forces_mse``, ``stress_mse``. Metrics report, for total
energy, per-atom energy (E/N), forces and stress, the ``rmse``, ``mae`` and ``maxabserr``
(e.g. ``forces_mae``); ``coeffs`` picks which enter the ``weighted_sum`` (others are
reported only). ``per_type_forces_coeffs`` (losses) turns the force error into a weighted
mean over atom types (see ``per_type_coeffs`` in :class:`~nequip.train.MetricsManager`);
``ignore_nan`` (the stress presets) skips NaN labels of the given fields, e.g. stress
missing for some frames.

Example (a config's ``training_module``)::

    loss:
      _target_: nequip.train.EnergyForceLoss
      per_atom_energy: true
      coeffs: {total_energy: 1.0, forces: 1.0}
      per_type_forces_coeffs: {H: 5.0, O: 1.0}   # optional
    val_metrics:
      _target_: nequip.train.EnergyForceMetrics
      coeffs: {total_energy_mae: 1.0, forces_mae: 1.0}
"""

from typing import Any, Dict, List, Mapping, Optional, Sequence

from nequip.data import PerAtomModifier, keys

from .metrics import MaximumAbsoluteError, MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError
from .metrics_manager import MetricsManager

_ERRORS = (("rmse", RootMeanSquaredError), ("mae", MeanAbsoluteError), ("maxabserr", MaximumAbsoluteError))


def _check_keys(argument: str, given: Mapping[str, Any], allowed: Sequence[str]) -> None:
    if not isinstance(given, Mapping):
        raise ValueError(f"{argument} must be a dict with keys from {list(allowed)}, got {given!r}")
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValueError(f"{argument} has unknown keys {unknown}; allowed are {list(allowed)}")


def _energy_field(per_atom_energy: bool):
    if per_atom_energy:
        return PerAtomModifier(keys.TOTAL_ENERGY_KEY), "per_atom_energy_mse"
    return keys.TOTAL_ENERGY_KEY, "total_energy_mse"


def _check_flags(argument: str, given: Optional[Mapping[str, bool]], allowed: Sequence[str]) -> Dict[str, bool]:
    if given is None:
        return {}
    _check_keys(argument, given, allowed)
    bad = {field: value for field, value in given.items() if not isinstance(value, bool)}
    if bad:
        raise ValueError(f"{argument} values must be true or false, got {bad}")
    return dict(given)


def _loss(
    fields: Sequence[str],
    coeffs: Optional[Mapping[str, float]],
    per_atom_energy: bool,
    type_names,
    extra_metrics,
    per_type_forces_coeffs: Optional[Mapping[str, float]] = None,
    ignore_nan: Optional[Mapping[str, bool]] = None,
) -> MetricsManager:
    coeffs = {field: 1.0 for field in fields} if coeffs is None else coeffs
    _check_keys("coeffs", coeffs, fields)
    skip_nan = _check_flags("ignore_nan", ignore_nan, fields)
    entries: List[Dict[str, Any]] = []
    for field in fields:
        if field == keys.TOTAL_ENERGY_KEY:
            modifier, name = _energy_field(per_atom_energy)
        else:
            modifier, name = field, f"{field}_mse"
        entry = {"field": modifier, "metric": MeanSquaredError(), "coeff": coeffs.get(field), "name": name}
        if skip_nan.get(field):
            entry["ignore_nan"] = True
        if field == keys.FORCE_KEY and per_type_forces_coeffs is not None:
            entry.update(per_type=True, per_type_coeffs=dict(per_type_forces_coeffs))
        entries.append(entry)
    return MetricsManager(entries + list(extra_metrics or []), type_names=type_names)


def _metrics(
    fields: Sequence[str],
    coeffs: Optional[Mapping[str, Optional[float]]],
    default_coeffs: Mapping[str, float],
    type_names,
    extra_metrics,
    ignore_nan: Optional[Mapping[str, bool]] = None,
) -> MetricsManager:
    quantities = []
    for field in fields:
        if field == keys.TOTAL_ENERGY_KEY:
            quantities += [
                ("total_energy", keys.TOTAL_ENERGY_KEY, field),
                ("per_atom_energy", PerAtomModifier(keys.TOTAL_ENERGY_KEY), field),
            ]
        else:
            quantities.append((field, field, field))
    allowed = [f"{label}_{error}" for label, _, _ in quantities for error, _ in _ERRORS]
    coeffs = default_coeffs if coeffs is None else coeffs
    _check_keys("coeffs", coeffs, allowed)
    skip_nan = _check_flags("ignore_nan", ignore_nan, fields)
    entries = [
        {
            "field": modifier,
            "metric": metric_class(),
            "coeff": coeffs.get(f"{label}_{error}"),
            "name": f"{label}_{error}",
            "ignore_nan": skip_nan.get(field, False),
        }
        for label, modifier, field in quantities
        for error, metric_class in _ERRORS
    ]
    return MetricsManager(entries + list(extra_metrics or []), type_names=type_names)


_EF = (keys.TOTAL_ENERGY_KEY, keys.FORCE_KEY)
_EFS = (keys.TOTAL_ENERGY_KEY, keys.FORCE_KEY, keys.STRESS_KEY)


def EnergyForceLoss(
    coeffs: Optional[Dict[str, float]] = None,
    per_atom_energy: bool = True,
    per_type_forces_coeffs: Optional[Dict[str, float]] = None,
    type_names: Optional[List[str]] = None,
    extra_metrics: Optional[List[Dict[str, Any]]] = None,
) -> MetricsManager:
    """Loss: energy and force mean squared errors.

    Args:
        coeffs: ``{total_energy: c_E, forces: c_F}`` (default 1 and 1; normalized to sum to one).
        per_atom_energy: use E/N (``per_atom_energy_mse``, default) instead of E (``total_energy_mse``).
        per_type_forces_coeffs: ``{type name: weight > 0}`` for every type: ``forces_mse`` becomes
            the weighted mean of the per-type force MSEs (default: the MSE over all atoms).
        type_names: model type names (given by the training module).
        extra_metrics: further :class:`MetricsManager` entries.
    """
    return _loss(_EF, coeffs, per_atom_energy, type_names, extra_metrics, per_type_forces_coeffs)


def EnergyForceStressLoss(
    coeffs: Optional[Dict[str, float]] = None,
    per_atom_energy: bool = True,
    per_type_forces_coeffs: Optional[Dict[str, float]] = None,
    type_names: Optional[List[str]] = None,
    ignore_nan: Optional[Dict[str, bool]] = None,
    extra_metrics: Optional[List[Dict[str, Any]]] = None,
) -> MetricsManager:
    """Loss: energy, force and stress mean squared errors.

    Args:
        coeffs: ``{total_energy: ..., forces: ..., stress: ...}`` (default 1 each).
        ignore_nan: ``{field: true}`` to skip NaN labels of ``total_energy``, ``forces`` or
            ``stress`` (e.g. frames without stress labelled NaN).
        per_atom_energy, per_type_forces_coeffs, type_names, extra_metrics: as in :func:`EnergyForceLoss`.
    """
    return _loss(_EFS, coeffs, per_atom_energy, type_names, extra_metrics, per_type_forces_coeffs, ignore_nan)


def EnergyOnlyLoss(
    per_atom_energy: bool = True,
    type_names: Optional[List[str]] = None,
    extra_metrics: Optional[List[Dict[str, Any]]] = None,
) -> MetricsManager:
    """Loss: the energy mean squared error alone (for data sets without forces)."""
    return _loss((keys.TOTAL_ENERGY_KEY,), None, per_atom_energy, type_names, extra_metrics)


def EnergyForceMetrics(
    coeffs: Optional[Dict[str, Optional[float]]] = None,
    type_names: Optional[List[str]] = None,
    extra_metrics: Optional[List[Dict[str, Any]]] = None,
) -> MetricsManager:
    """Metrics: RMSE, MAE and max abs error of total energy, per-atom energy and forces.

    Args:
        coeffs: weights of the ``weighted_sum`` by metric name (default
            ``{total_energy_rmse: 1, forces_rmse: 1}``); names not given are reported only.
        type_names: model type names (for per-type ``extra_metrics``).
        extra_metrics: further :class:`MetricsManager` entries.
    """
    return _metrics(_EF, coeffs, {"total_energy_rmse": 1.0, "forces_rmse": 1.0}, type_names, extra_metrics)


def EnergyForceStressMetrics(
    coeffs: Optional[Dict[str, Optional[float]]] = None,
    type_names: Optional[List[str]] = None,
    ignore_nan: Optional[Dict[str, bool]] = None,
    extra_metrics: Optional[List[Dict[str, Any]]] = None,
) -> MetricsManager:
    """Metrics of :func:`EnergyForceMetrics` plus ``stress_rmse``, ``stress_mae``, ``stress_maxabserr``.

    ``ignore_nan`` (``{field: true}``, fields ``total_energy``, ``forces``, ``stress``) skips
    NaN labels of those fields.
    """
    default = {"total_energy_rmse": 1.0, "forces_rmse": 1.0, "stress_rmse": 1.0}
    return _metrics(_EFS, coeffs, default, type_names, extra_metrics, ignore_nan)


def EnergyOnlyMetrics(
    coeffs: Optional[Dict[str, Optional[float]]] = None,
    type_names: Optional[List[str]] = None,
    extra_metrics: Optional[List[Dict[str, Any]]] = None,
) -> MetricsManager:
    """Metrics: RMSE, MAE and max abs error of total and per-atom energy (default weight on ``total_energy_rmse``)."""
    return _metrics((keys.TOTAL_ENERGY_KEY,), coeffs, {"total_energy_rmse": 1.0}, type_names, extra_metrics)
