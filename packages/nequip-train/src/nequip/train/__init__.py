"""nequip.train: training NequIP potentials with Lightning.

Lightning modules (:class:`NequIPLightningModule`, :class:`EMALightningModule`), losses
and metrics (:class:`MetricsManager` and the energy/force/stress presets), callbacks, the
config resolvers and the ``nequip-train`` command line (:mod:`nequip.train.cli`).
"""

from .ema import EMALightningModule
from .lightning import NequIPLightningModule
from .loss_metric_presets import (
    EnergyForceLoss,
    EnergyForceMetrics,
    EnergyForceStressLoss,
    EnergyForceStressMetrics,
    EnergyOnlyLoss,
    EnergyOnlyMetrics,
)
from .metrics import MaximumAbsoluteError, MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError
from .metrics_manager import MetricsManager

__all__ = [
    "NequIPLightningModule",
    "EMALightningModule",
    "MetricsManager",
    "EnergyForceLoss",
    "EnergyForceMetrics",
    "EnergyForceStressLoss",
    "EnergyForceStressMetrics",
    "EnergyOnlyLoss",
    "EnergyOnlyMetrics",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "RootMeanSquaredError",
    "MaximumAbsoluteError",
]
