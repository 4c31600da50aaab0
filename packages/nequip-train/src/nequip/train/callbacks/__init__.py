"""Lightning callbacks for NequIP training: loss-coefficient schedules, test predictions to
extxyz, and parity plots (PNG) after a test run."""

from .loss_schedule import LossCoefficientScheduler
from .parity import ParityPlot
from .write_xyz import TestTimeXYZFileWriter

__all__ = ["LossCoefficientScheduler", "TestTimeXYZFileWriter", "ParityPlot"]
