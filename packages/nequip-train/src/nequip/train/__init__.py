"""nequip.train: training NequIP potentials with Lightning.

Lightning modules (:class:`NequIPLightningModule`, :class:`EMALightningModule`, the
conflict-free :class:`ConFIGLightningModule` / :class:`EMAConFIGLightningModule`, and
:class:`ScheduleFreeLightningModule`), losses and metrics (:class:`MetricsManager`, the
energy/force/stress presets, Huber losses), the :class:`MuonWithAuxAdam` optimizer, the
:class:`SimpleDDPStrategy`, callbacks, the config resolvers and the ``nequip-train`` command
line (:mod:`nequip.train.cli`).
"""

from .conflict_free import ConFIGLightningModule, EMAConFIGLightningModule
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
from .metrics import (
    HuberLoss,
    MaximumAbsoluteError,
    MeanAbsoluteError,
    MeanSquaredError,
    RootMeanSquaredError,
    StratifiedHuberForceLoss,
)
from .metrics_manager import MetricsManager
from .muon import MuonWithAuxAdam
from .schedulefree import ScheduleFreeLightningModule
from .simple_ddp import SimpleDDPStrategy

__all__ = [
    "NequIPLightningModule",
    "EMALightningModule",
    "ConFIGLightningModule",
    "EMAConFIGLightningModule",
    "ScheduleFreeLightningModule",
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
    "HuberLoss",
    "StratifiedHuberForceLoss",
    "SimpleDDPStrategy",
    "MuonWithAuxAdam",
]
