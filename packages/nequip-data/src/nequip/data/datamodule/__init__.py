"""Lightning datamodules: build datasets, random splits and dataloaders from configs.

Importing this subpackage imports Lightning (``pip install nequip-data[lightning]``);
``nequip.data`` and ``nequip.data.dataset`` do not.
"""

from .ase_datamodule import ASEDataModule
from .base import NequIPDataModule

__all__ = ["NequIPDataModule", "ASEDataModule"]
