"""Dataset of HDF5 files in upstream NequIP's layout, read lazily frame by frame (``nequip-data[hdf5]``)."""

import bisect
import os
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .. import AtomicDataDict, keys
from ..dict_convert import from_dict
from .base import AtomicDataset, check_file_exists

#: array names in upstream NequIP's HDF5 files -> field names; the default ``key_mapping``
HDF5_KEY_MAPPING: Dict[str, str] = {
    "pos": keys.POSITIONS_KEY,
    "energy": keys.TOTAL_ENERGY_KEY,
    "forces": keys.FORCE_KEY,
    "atomic_numbers": keys.ATOMIC_NUMBERS_KEY,
    "types": keys.ATOM_TYPE_KEY,
}


def _h5py():
    try:
        import h5py
    except ImportError as err:
        raise ImportError("HDF5Dataset needs h5py: pip install 'nequip-data[hdf5]'") from err
    return h5py


class HDF5Dataset(AtomicDataset):
    """Frames stored in HDF5 files, grouped by size; only the frames asked for are read.

    Layout (upstream NequIP's): every top-level group of a file holds frames with the same
    number of atoms N, as arrays whose first dimension is the group's number of frames F,
    e.g. ``pos`` (F, N, 3), ``energy`` (F,), ``forces`` (F, N, 3), ``atomic_numbers`` (F, N).
    A group may lack some of the arrays of ``key_mapping`` (its frames then lack those
    fields). Frames are numbered file by file, group by group in name order, then in order
    within a group. Each frame becomes an ``AtomicDataDict`` through
    :func:`~nequip.data.from_dict` (float64; non-periodic unless ``pbc`` and ``cell`` are
    mapped). Each process opens the files once, when it first reads a frame, so the dataset
    works in ``DataLoader`` workers.

    Args:
        file_name: path of an HDF5 file, or several separated by ``;``.
        transforms: callables ``data -> data`` applied to each frame, in order.
        key_mapping: array name in the file -> field name (default :data:`HDF5_KEY_MAPPING`).

    Raises:
        ImportError: if h5py is not installed (``pip install 'nequip-data[hdf5]'``).
        ValueError: if the arrays of a group have different numbers of frames.
    """

    def __init__(
        self,
        file_name: str,
        transforms: Optional[List[Callable]] = None,
        key_mapping: Optional[Dict[str, str]] = None,
    ):
        super().__init__(transforms=transforms)
        h5py = _h5py()
        if not isinstance(file_name, str) or not file_name:
            raise ValueError(f"file_name must be a path or paths separated by ';', got {file_name!r}")
        self.file_name = file_name
        self.file_paths = [check_file_exists(path, "file_name") for path in file_name.split(";")]
        self.key_mapping = dict(HDF5_KEY_MAPPING if key_mapping is None else key_mapping)
        # (file index, group name) of each group, and the frame number each group starts at
        self._groups: List[Tuple[int, str]] = []
        self._starts: List[int] = []
        total = 0
        for file_idx, path in enumerate(self.file_paths):
            with h5py.File(path, "r") as file:
                for group_name in file:
                    lengths = {
                        name: len(file[group_name][name]) for name in self.key_mapping if name in file[group_name]
                    }
                    if len(set(lengths.values())) > 1:
                        raise ValueError(
                            f"HDF5Dataset {path!r}, group {group_name!r}: arrays have different numbers of frames {lengths}"
                        )
                    if lengths:
                        self._groups.append((file_idx, group_name))
                        self._starts.append(total)
                        total += next(iter(lengths.values()))
        self._length = total
        self._open: Optional[Tuple[int, list]] = None  # (process id, open files)

    def _files(self) -> list:
        # h5py handles must not cross a fork: a DataLoader worker opens its own
        if self._open is None or self._open[0] != os.getpid():
            h5py = _h5py()
            self._open = (os.getpid(), [h5py.File(path, "r") for path in self.file_paths])
        return self._open[1]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_open"] = None  # open files are not pickled (spawned DataLoader workers reopen them)
        return state

    def __len__(self) -> int:
        return self._length

    def _frame(self, files: list, index: int) -> AtomicDataDict.Type:
        position = bisect.bisect_right(self._starts, index) - 1
        file_idx, group_name = self._groups[position]
        group = files[file_idx][group_name]
        row = index - self._starts[position]
        values = {field: np.asarray(group[name][row]) for name, field in self.key_mapping.items() if name in group}
        return from_dict(values)

    def _get_data_list(self, indices: List[int]) -> List[AtomicDataDict.Type]:
        files = self._files()
        return [self._frame(files, index) for index in indices]

    def describe(self) -> str:
        return f"HDF5Dataset({self.file_name!r})"
