"""Datasets of single-frame ``AtomicDataDict`` s, and random splits of them.

Every dataset returns frame ``i`` with ``frame_index`` set to ``[i]`` and its
``transforms`` applied in order.
"""

from .ase_dataset import ASEDataset
from .base import AtomicDataset
from .emt_dataset import EMTTestDataset
from .hdf5_dataset import HDF5Dataset
from .lmdb_dataset import LMDBTestDataset, NequIPLMDBDataset, convert_to_lmdb
from .npz_dataset import NPZDataset
from .split import RandomSplitAndIndexDataset, SubsetByRandomSlice, random_split, random_split_indices, split_lengths

__all__ = [
    "AtomicDataset",
    "ASEDataset",
    "NPZDataset",
    "HDF5Dataset",
    "EMTTestDataset",
    "NequIPLMDBDataset",
    "LMDBTestDataset",
    "convert_to_lmdb",
    "RandomSplitAndIndexDataset",
    "SubsetByRandomSlice",
    "random_split",
    "random_split_indices",
    "split_lengths",
]
