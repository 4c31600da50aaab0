"""Dataset of arrays in an ``.npz`` file, as sGDML and rMD17 distribute their data."""

from typing import Callable, Dict, List, Optional

import numpy as np
import torch

from .. import AtomicDataDict, keys
from ..ase_convert import _to_tensor
from ..fields import get_field_type
from .base import AtomicDataset, check_file_exists

#: array names of sGDML (and MD22) files -> field names; the default ``key_mapping``
SGDML_KEY_MAPPING: Dict[str, str] = {
    "R": keys.POSITIONS_KEY,
    "z": keys.ATOMIC_NUMBERS_KEY,
    "E": keys.TOTAL_ENERGY_KEY,
    "F": keys.FORCE_KEY,
}


class NPZDataset(AtomicDataset):
    """Frames of equal size stored as arrays in an ``.npz`` file.

    The arrays named in ``key_mapping`` are loaded into memory when the dataset is built;
    frames are assembled when indexed. Positions are ``(F, N, 3)`` for ``F`` frames of ``N``
    atoms. Any other array is either per frame (leading dimension ``F``: energies ``(F,)`` or
    ``(F, 1)``, forces ``(F, N, 3)``, cells ``(F, 3, 3)``, pbc ``(F, 3)``, stress ``(F, 3, 3)``
    or Voigt ``(F, 6)``) or shared by all frames (atomic numbers ``(N,)``, a cell ``(3, 3)``,
    pbc ``(3,)``). Without a cell, frames are non-periodic with a zero cell; with a cell but
    no pbc, they are periodic in all directions. Units are those of the file.

    Args:
        file_path: path to the ``.npz`` file.
        transforms: callables ``data -> data`` applied to each frame, in order.
        key_mapping: array name in the file -> field name. The default fits sGDML files
            (``R``, ``z``, ``E``, ``F``); for rMD17 use ``{coords: pos, nuclear_charges:
            atomic_numbers, energies: total_energy, forces: forces}``.
    """

    def __init__(
        self,
        file_path: str,
        transforms: Optional[List[Callable]] = None,
        key_mapping: Optional[Dict[str, str]] = None,
    ):
        super().__init__(transforms=transforms)
        self.file_path = check_file_exists(file_path)
        self.key_mapping = dict(SGDML_KEY_MAPPING if key_mapping is None else key_mapping)
        fields = list(self.key_mapping.values())
        for required in (keys.POSITIONS_KEY, keys.ATOMIC_NUMBERS_KEY):
            if required not in fields:
                raise ValueError(
                    f"NPZDataset: key_mapping {self.key_mapping} maps no array to the required field {required!r}"
                )
        repeated = sorted({field for field in fields if fields.count(field) > 1})
        if repeated:
            raise ValueError(f"NPZDataset: key_mapping {self.key_mapping} maps several arrays to fields {repeated}")
        for field in fields:
            get_field_type(field)  # unknown fields must be registered first (KeyError says how)

        with np.load(self.file_path) as npz:
            missing = sorted(set(self.key_mapping) - set(npz.files))
            if missing:
                raise KeyError(
                    f"NPZDataset: file_path {self.file_path!r} has no arrays {missing} (from key_mapping); "
                    f"it has {sorted(npz.files)}"
                )
            arrays = {field: np.asarray(npz[name]) for name, field in self.key_mapping.items()}

        pos = arrays[keys.POSITIONS_KEY]
        if pos.ndim != 3 or pos.shape[2] != 3:
            raise ValueError(
                f"NPZDataset {self.file_path!r}: positions must have shape (frames, atoms, 3), got {pos.shape}"
            )
        self.num_frames, self.num_atoms_per_frame = int(pos.shape[0]), int(pos.shape[1])
        self.arrays = arrays
        self.per_frame = {field: self._is_per_frame(field, array) for field, array in arrays.items()}

    def _is_per_frame(self, field: str, array: np.ndarray) -> bool:
        F, N = self.num_frames, self.num_atoms_per_frame
        shape = array.shape
        if field == keys.CELL_KEY:
            per_frame, ok = array.ndim == 3, shape[-2:] == (3, 3) and (array.ndim == 2 or shape[0] == F)
        elif field == keys.PBC_KEY:
            per_frame = array.ndim == 2
            ok = array.ndim == 0 or shape[-1] == 3 and (array.ndim == 1 or shape[0] == F)
        elif get_field_type(field) == "node":
            per_frame = array.ndim >= 2 and shape[:2] == (F, N)
            ok = per_frame or (array.ndim >= 1 and shape[0] == N)
        else:
            per_frame = array.ndim >= 1 and shape[0] == F
            ok = True
        if not ok:
            raise ValueError(
                f"NPZDataset {self.file_path!r}: array for {field!r} has shape {shape}, which fits neither "
                f"{F} frames nor one frame of {N} atoms"
            )
        return per_frame

    def __len__(self) -> int:
        return self.num_frames

    def _frame(self, index: int) -> AtomicDataDict.Type:
        N = self.num_atoms_per_frame
        values = {f: (a[index] if self.per_frame[f] else a) for f, a in self.arrays.items()}
        cell = values.pop(keys.CELL_KEY, None)
        pbc = values.pop(keys.PBC_KEY, None)
        frame: AtomicDataDict.Type = {
            keys.POSITIONS_KEY: torch.tensor(values.pop(keys.POSITIONS_KEY), dtype=torch.float64),
            keys.ATOMIC_NUMBERS_KEY: torch.tensor(values.pop(keys.ATOMIC_NUMBERS_KEY), dtype=torch.long).reshape(N),
            keys.CELL_KEY: (
                torch.zeros(1, 3, 3, dtype=torch.float64)
                if cell is None
                else torch.tensor(cell, dtype=torch.float64).reshape(1, 3, 3)
            ),
            keys.PBC_KEY: (
                torch.full((1, 3), cell is not None, dtype=torch.bool)
                if pbc is None
                else torch.tensor(np.broadcast_to(pbc, (3,)), dtype=torch.bool).reshape(1, 3)
            ),
            keys.NUM_NODES_KEY: torch.tensor([N], dtype=torch.long),
            keys.BATCH_KEY: torch.zeros(N, dtype=torch.long),
        }
        for field, value in values.items():
            frame[field] = _to_tensor(field, np.array(value), N)  # a copy: transforms may write in place
        return frame

    def _get_data_list(self, indices: List[int]) -> List[AtomicDataDict.Type]:
        return [self._frame(index) for index in indices]

    def describe(self) -> str:
        return f"NPZDataset({self.file_path!r})"
