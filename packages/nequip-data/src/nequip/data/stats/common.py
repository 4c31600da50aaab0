"""Ready-made statistics managers for the usual model hyperparameters.

``CommonDataStatisticsManager`` (energies and forces) and
``EnergyOnlyDataStatisticsManager`` (energies only) return a configured
:class:`DataStatisticsManager`; both need ``type_names`` (they include per-type statistics).
"""

from typing import Any, Dict, List, Mapping, Optional, Sequence

from .. import keys
from .lstsq import CompositionLeastSquares
from .manager import DataStatisticsManager
from .metrics import Mean, RootMeanSquare, StandardDeviation
from .modifiers import NumNeighbors, PerAtomModifier


def _shared_metrics() -> List[Dict[str, Any]]:
    return [
        {"name": "num_neighbors_mean", "field": NumNeighbors(), "metric": Mean()},
        {"name": "per_type_num_neighbors_mean", "field": NumNeighbors(), "metric": Mean(), "per_type": True},
        {"name": "per_atom_energy_mean", "field": PerAtomModifier(keys.TOTAL_ENERGY_KEY), "metric": Mean()},
    ]


def _lstsq_metric() -> Dict[str, Any]:
    return {
        "name": "per_type_atom_energy_lstsq",
        "field": keys.TOTAL_ENERGY_KEY,
        "metric": CompositionLeastSquares(),
    }


def CommonDataStatisticsManager(
    dataloader_kwargs: Optional[Mapping[str, Any]] = None,
    type_names: Optional[Sequence[str]] = None,
) -> DataStatisticsManager:
    """Statistics for data sets with energies and forces.

    Computes (all float64, independent of the batch size):

    - ``num_neighbors_mean``: mean over atoms of the number of directed edges centered on
      the atom (for ``avg_num_neighbors``); ``per_type_num_neighbors_mean`` per type;
    - ``per_atom_energy_mean``: mean over frames of E/N (a single energy shift);
    - ``forces_rms``: RMS over all force components (for ``per_type_energy_scales``);
      ``per_type_forces_rms`` per type;
    - ``per_type_atom_energy_lstsq``: per-type atomic energies fitted by least squares of the
      total energy on the composition (see :class:`CompositionLeastSquares`). Isolated-atom
      energies are the best ``per_type_energy_shifts``; without them, this fit is a better
      fallback than ``per_atom_energy_mean`` when the types' energies differ.

    Args:
        dataloader_kwargs: DataLoader arguments for the statistics pass (e.g. ``batch_size``).
        type_names: the model's type names, in order (required).

    Example:
        >>> manager = CommonDataStatisticsManager(type_names=["Cu", "Au"])
        >>> manager.names[:3]
        ['num_neighbors_mean', 'per_type_num_neighbors_mean', 'per_atom_energy_mean']
    """
    metrics = _shared_metrics() + [
        {"name": "forces_rms", "field": keys.FORCE_KEY, "metric": RootMeanSquare()},
        {"name": "per_type_forces_rms", "field": keys.FORCE_KEY, "metric": RootMeanSquare(), "per_type": True},
        _lstsq_metric(),
    ]
    return DataStatisticsManager(metrics, dataloader_kwargs=dataloader_kwargs, type_names=type_names)


def EnergyOnlyDataStatisticsManager(
    dataloader_kwargs: Optional[Mapping[str, Any]] = None,
    type_names: Optional[Sequence[str]] = None,
) -> DataStatisticsManager:
    """Statistics for data sets with energies but no forces.

    Computes ``num_neighbors_mean``, ``per_type_num_neighbors_mean``,
    ``per_atom_energy_mean`` and ``per_type_atom_energy_lstsq`` as
    :func:`CommonDataStatisticsManager`, plus ``total_energy_std`` (standard deviation of
    the total energy over frames, unbiased, for ``per_type_energy_scales``) and
    ``per_atom_energy_std`` (the same for E/N).

    Args:
        dataloader_kwargs: DataLoader arguments for the statistics pass (e.g. ``batch_size``).
        type_names: the model's type names, in order (required).
    """
    metrics = _shared_metrics() + [
        {"name": "total_energy_std", "field": keys.TOTAL_ENERGY_KEY, "metric": StandardDeviation()},
        {
            "name": "per_atom_energy_std",
            "field": PerAtomModifier(keys.TOTAL_ENERGY_KEY),
            "metric": StandardDeviation(),
        },
        _lstsq_metric(),
    ]
    return DataStatisticsManager(metrics, dataloader_kwargs=dataloader_kwargs, type_names=type_names)
