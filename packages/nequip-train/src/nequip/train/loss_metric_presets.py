"""Ready-made losses and metrics for energies, forces and stress (upstream NequIP's names).

Losses are mean squared errors: ``per_atom_energy_mse`` (or ``total_energy_mse`` with
``per_atom_energy: false``), ``forces_mse``, ``stress_mse``. Metrics report, for total
energy, per-atom energy (E/N), forces and stress, the ``rmse``, ``mae`` and ``maxabserr``
(e.g. ``forces_mae``); ``coeffs`` picks which enter the ``weighted_sum`` (others are
reported only).

Example (a config's ``training_module``)::

    loss:
      _target_: nequip.train.EnergyForceLoss
      per_atom_energy: true
      coeffs: {total_energy: 1.0, forces: 1.0}
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


def _loss(
    fields: Sequence[str], coeffs: Mapping[str, float], per_atom_energy: bool, type_names, extra_metrics
) -> MetricsManager:
    _check_keys("coeffs", coeffs, fields)
    entries: List[Dict[str, Any]] = []
    for field in fields:
        if field == keys.TOTAL_ENERGY_KEY:
            modifier, name = _energy_field(per_atom_energy)
        else:
            modifier, name = field, f"{field}_mse"
        entries.append({"field": modifier, "metric": MeanSquaredError(), "coeff": coeffs.get(field), "name": name})
    return MetricsManager(entries + list(extra_metrics or []), type_names=type_names)


def _metrics(fields: Sequence[str], coeffs: Mapping[str, Optional[float]], type_names, extra_metrics) -> MetricsManager:
    quantities = []
    for field in fields:
        if field == keys.TOTAL_ENERGY_KEY:
            quantities += [
                ("total_energy", keys.TOTAL_ENERGY_KEY),
                ("per_atom_energy", PerAtomModifier(keys.TOTAL_ENERGY_KEY)),
            ]
        else:
            quantities.append((field, field))
    allowed = [f"{label}_{error}" for label, _ in quantities for error, _ in _ERRORS]
    _check_keys("coeffs", coeffs, allowed)
    entries = [
        {
            "field": modifier,
            "metric": metric_class(),
            "coeff": coeffs.get(f"{label}_{error}"),
            "name": f"{label}_{error}",
        }
        for label, modifier in quantities
        for error, metric_class in _ERRORS
    ]
    return MetricsManager(entries + list(extra_metrics or []), type_names=type_names)


_EF = (keys.TOTAL_ENERGY_KEY, keys.FORCE_KEY)
_EFS = (keys.TOTAL_ENERGY_KEY, keys.FORCE_KEY, keys.STRESS_KEY)


def EnergyForceLoss(
    coeffs: Optional[Dict[str, float]] = None,
    per_atom_energy: bool = True,
    type_names: Optional[List[str]] = None,
    extra_metrics: Optional[List[Dict[str, Any]]] = None,
) -> MetricsManager:
    """Loss: energy and force mean squared errors.

    Args:
        coeffs: ``{total_energy: c_E, forces: c_F}`` (default 1 and 1; normalized to sum to one).
        per_atom_energy: use E/N (``per_atom_energy_mse``, default) instead of E (``total_energy_mse``).
        type_names: model type names (for per-type ``extra_metrics``).
        extra_metrics: further :class:`MetricsManager` entries.
    """
    return _loss(
        _EF,
        {keys.TOTAL_ENERGY_KEY: 1.0, keys.FORCE_KEY: 1.0} if coeffs is None else coeffs,
        per_atom_energy,
        type_names,
        extra_metrics,
    )


def EnergyForceStressLoss(
    coeffs: Optional[Dict[str, float]] = None,
    per_atom_energy: bool = True,
    type_names: Optional[List[str]] = None,
    extra_metrics: Optional[List[Dict[str, Any]]] = None,
) -> MetricsManager:
    """Loss: energy, force and stress mean squared errors (``coeffs`` keys ``total_energy``, ``forces``, ``stress``)."""
    default = {keys.TOTAL_ENERGY_KEY: 1.0, keys.FORCE_KEY: 1.0, keys.STRESS_KEY: 1.0}
    return _loss(_EFS, default if coeffs is None else coeffs, per_atom_energy, type_names, extra_metrics)


def EnergyOnlyLoss(
    per_atom_energy: bool = True,
    type_names: Optional[List[str]] = None,
    extra_metrics: Optional[List[Dict[str, Any]]] = None,
) -> MetricsManager:
    """Loss: the energy mean squared error alone (for data sets without forces)."""
    return _loss((keys.TOTAL_ENERGY_KEY,), {keys.TOTAL_ENERGY_KEY: 1.0}, per_atom_energy, type_names, extra_metrics)


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
    return _metrics(
        _EF, {"total_energy_rmse": 1.0, "forces_rmse": 1.0} if coeffs is None else coeffs, type_names, extra_metrics
    )


def EnergyForceStressMetrics(
    coeffs: Optional[Dict[str, Optional[float]]] = None,
    type_names: Optional[List[str]] = None,
    extra_metrics: Optional[List[Dict[str, Any]]] = None,
) -> MetricsManager:
    """Metrics of :func:`EnergyForceMetrics` plus ``stress_rmse``, ``stress_mae``, ``stress_maxabserr``."""
    default = {"total_energy_rmse": 1.0, "forces_rmse": 1.0, "stress_rmse": 1.0}
    return _metrics(_EFS, default if coeffs is None else coeffs, type_names, extra_metrics)


def EnergyOnlyMetrics(
    coeffs: Optional[Dict[str, Optional[float]]] = None,
    type_names: Optional[List[str]] = None,
    extra_metrics: Optional[List[Dict[str, Any]]] = None,
) -> MetricsManager:
    """Metrics: RMSE, MAE and max abs error of total and per-atom energy (default weight on ``total_energy_rmse``)."""
    return _metrics(
        (keys.TOTAL_ENERGY_KEY,), {"total_energy_rmse": 1.0} if coeffs is None else coeffs, type_names, extra_metrics
    )
