"""Lightning callbacks for NequIP training: loss-coefficient schedules and adaptation, monitors of
coefficients and training statistics, TF32 schedules, predictions to extxyz, parity plots (PNG),
Weights & Biases watching and ``torch.profiler`` traces."""

from .loss_coeff_monitor import LossCoefficientMonitor
from .loss_schedule import LinearLossCoefficientScheduler, LossCoefficientScheduler
from .parity import ParityPlot
from .profiler import TorchProfilerCallback
from .softadapt import SoftAdapt
from .tf32_scheduler import TF32Scheduler
from .training_stats import TrainingStatsMonitor
from .wandb_watch import WandbWatch
from .write_xyz import TestTimeXYZFileWriter, ValTimeXYZFileWriter

__all__ = [
    "SoftAdapt",
    "LossCoefficientScheduler",
    "LinearLossCoefficientScheduler",
    "LossCoefficientMonitor",
    "TF32Scheduler",
    "TestTimeXYZFileWriter",
    "ValTimeXYZFileWriter",
    "WandbWatch",
    "TrainingStatsMonitor",
    "TorchProfilerCallback",
    "ParityPlot",
]
