"""Lightning datamodules: build datasets, random splits and dataloaders from configs.

Importing this subpackage imports Lightning (``pip install nequip-data[lightning]``);
``nequip.data`` and ``nequip.data.dataset`` do not. Besides the general
:class:`NequIPDataModule` and :class:`ASEDataModule`, the benchmark datamodules download
their data sets (or read them from ``data_source_dir``).
"""

from .ase_datamodule import ASEDataModule
from .base import NequIPDataModule
from .npz_benchmarks import MD22DataModule, rMD17DataModule, sGDML_CCSD_DataModule
from .xyz_benchmarks import (
    COLLDataModule,
    NequIP3BPADataModule,
    SAMD23DataModule,
    TM23DataModule,
    WaterDataModule,
)

__all__ = [
    "NequIPDataModule",
    "ASEDataModule",
    "sGDML_CCSD_DataModule",
    "rMD17DataModule",
    "MD22DataModule",
    "NequIP3BPADataModule",
    "TM23DataModule",
    "SAMD23DataModule",
    "WaterDataModule",
    "COLLDataModule",
]
