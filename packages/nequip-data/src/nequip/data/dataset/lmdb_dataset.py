"""On-disk dataset in an LMDB file, read lazily frame by frame, for data larger than memory."""

import os
import pickle
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import ase
import lmdb
import numpy as np
import torch

from .. import AtomicDataDict, keys
from ..ase_convert import from_ase
from .base import AtomicDataset, check_file_exists

_METADATA_KEY = b"__metadata__"
# metadata names as in upstream NequIP's LMDB files
_NUM_FRAMES = "num_frames"
_NUM_ATOMS = "num_atoms_per_entry"
_NUM_EDGES = "num_edges_per_entry"
DEFAULT_MAP_SIZE = 50 * 1024**3  # bytes; the largest the file may grow to (no space is reserved)


# Read-only environments open in this process, one per file: LMDB refuses to open a file
# twice in a process, so all datasets reading the same file share one environment.
# Keyed by the file's identity (device, inode), so that a file written anew is opened anew.
_READ_ENVS: Dict[tuple, Tuple[int, "lmdb.Environment"]] = {}


def _read_env(file_path: str) -> "lmdb.Environment":
    stat = os.stat(file_path)
    key = (stat.st_dev, stat.st_ino)
    pid = os.getpid()
    entry = _READ_ENVS.get(key)
    if entry is not None and entry[0] == pid:
        return entry[1]
    if entry is not None:
        # inherited from the parent through fork (DataLoader workers): it must not be used
        # here, and LMDB will not open the file again while it is open; closing it unmaps
        # this process's copy only (read-only, no locks), the parent's stays valid
        entry[1].close()
    # no locking (read-only), no readahead (random access), many readers (DataLoader workers)
    env = lmdb.open(file_path, subdir=False, readonly=True, lock=False, readahead=False, max_readers=2048)
    _READ_ENVS[key] = (pid, env)
    return env


def _frame_to_numpy(frame: AtomicDataDict.Type, index: int) -> Dict[str, np.ndarray]:
    if not isinstance(frame, dict):
        raise TypeError(f"LMDB conversion: item {index} is a {type(frame).__name__}, not an AtomicDataDict")
    if keys.NUM_NODES_KEY in frame and AtomicDataDict.num_frames(frame) != 1:
        raise ValueError(
            f"LMDB conversion: item {index} holds {AtomicDataDict.num_frames(frame)} frames; items must be single frames"
        )
    out = {}
    for field, value in frame.items():
        if field == keys.FRAME_INDEX_KEY:
            continue  # the frame's index in the LMDB file is its key
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"LMDB conversion: item {index}, field {field!r} is a {type(value).__name__}, not a tensor")
        out[field] = value.detach().cpu().numpy()
    return out


class NequIPLMDBDataset(AtomicDataset):
    """Frames stored in an LMDB file (one pickled entry per frame), read when indexed.

    Only the metadata (number of frames, atoms per frame) is read when the dataset is built.
    Each process opens the file once (datasets on the same file share it) and a forked
    ``DataLoader`` worker opens its own, so the dataset works with ``num_workers > 0``. Write files with :meth:`save_from_iterator` or
    :func:`convert_to_lmdb`. Files written by upstream NequIP (entries of ``torch`` tensors)
    are read as well.

    Args:
        file_path: path to the LMDB file (a single file, plus ``<file_path>-lock`` when written).
        transforms: callables ``data -> data`` applied to each frame, in order.
        exclude_keys: fields to drop when reading.

    Example:
        >>> import os, tempfile
        >>> from nequip.data.dataset import EMTTestDataset, convert_to_lmdb
        >>> path = os.path.join(tempfile.mkdtemp(), "emt.lmdb")
        >>> lmdb_dataset = convert_to_lmdb(EMTTestDataset(supercell=(1, 1, 1), num_frames=4), path)
        >>> len(lmdb_dataset), lmdb_dataset[3]["frame_index"].tolist()
        (4, [3])
    """

    def __init__(
        self, file_path: str, transforms: Optional[List[Callable]] = None, exclude_keys: Optional[List[str]] = None
    ):
        super().__init__(transforms=transforms)
        self.file_path = check_file_exists(file_path)
        self.exclude_keys = set(exclude_keys or ())
        with _read_env(self.file_path).begin() as txn:
            raw = txn.get(_METADATA_KEY)
            self.metadata: Dict[str, Any] = pickle.loads(raw) if raw is not None else {}
            entries = txn.stat()["entries"] - (raw is not None)
        self._length = int(self.metadata.get(_NUM_FRAMES, entries))

    def __len__(self) -> int:
        return self._length

    def _get_data_list(self, indices: List[int]) -> List[AtomicDataDict.Type]:
        frames = []
        with _read_env(self.file_path).begin() as txn:
            for index in indices:
                raw = txn.get(str(index).encode("ascii"))
                if raw is None:
                    raise IndexError(f"{self.describe()}: no entry for frame {index} ({len(self)} frames expected)")
                stored = pickle.loads(raw)
                frames.append(
                    {
                        field: value if isinstance(value, torch.Tensor) else torch.from_numpy(value)
                        for field, value in stored.items()
                        if field not in self.exclude_keys
                    }
                )
        return frames

    def num_atoms(self, indices) -> List[int]:
        counts = self.metadata.get(_NUM_ATOMS)
        if counts is None:
            return super().num_atoms(indices)
        return [int(counts[index]) for index in self._normalize_indices(indices)]

    def describe(self) -> str:
        return f"NequIPLMDBDataset({self.file_path!r})"

    @classmethod
    def save_from_iterator(
        cls,
        file_path: str,
        iterator: Iterable[AtomicDataDict.Type],
        map_size: int = DEFAULT_MAP_SIZE,
        write_frequency: int = 1000,
    ) -> None:
        """Write single-frame ``AtomicDataDict`` s to a new LMDB file.

        Fields are stored as numpy arrays with their dtypes and shapes; ``frame_index`` is
        not stored (a frame's index is its position in the file). Number of frames, atoms
        per frame and edges per frame are stored as metadata.

        Args:
            file_path: the file to write; it must not exist yet.
            iterator: the frames, e.g. a dataset (its transforms are applied and stored).
            map_size: the largest size in bytes the file may reach (an error is raised past it).
            write_frequency: frames per write transaction.
        """
        if os.path.exists(file_path):
            raise FileExistsError(f"file_path {file_path!r} exists; LMDB files are written only once")
        if not isinstance(map_size, int) or map_size <= 0:
            raise ValueError(f"map_size must be a positive number of bytes, got {map_size!r}")
        if not isinstance(write_frequency, int) or write_frequency <= 0:
            raise ValueError(f"write_frequency must be a positive integer, got {write_frequency!r}")
        num_atoms, num_edges = [], []
        env = lmdb.open(file_path, map_size=map_size, subdir=False, meminit=False, sync=True, lock=True)
        try:
            txn = env.begin(write=True)
            try:
                for index, frame in enumerate(iterator):
                    txn.put(str(index).encode("ascii"), pickle.dumps(_frame_to_numpy(frame, index), protocol=-1))
                    num_atoms.append(AtomicDataDict.num_nodes(frame))
                    num_edges.append(AtomicDataDict.num_edges(frame) if keys.EDGE_INDEX_KEY in frame else -1)
                    if (index + 1) % write_frequency == 0:
                        txn.commit()
                        txn = env.begin(write=True)
                metadata = {
                    _NUM_FRAMES: len(num_atoms),
                    _NUM_ATOMS: np.asarray(num_atoms, dtype=np.int64),
                    _NUM_EDGES: np.asarray(num_edges, dtype=np.int64),
                }
                txn.put(_METADATA_KEY, pickle.dumps(metadata, protocol=-1))
                txn.commit()
            except BaseException:
                txn.abort()
                raise
        finally:
            env.sync()
            env.close()


def convert_to_lmdb(
    source: Union[str, Iterable[Union[AtomicDataDict.Type, ase.Atoms]]],
    file_path: str,
    map_size: int = DEFAULT_MAP_SIZE,
    write_frequency: int = 1000,
    transforms: Optional[List[Callable]] = None,
    exclude_keys: Optional[List[str]] = None,
) -> NequIPLMDBDataset:
    """Convert a data set into an LMDB file and return it as a :class:`NequIPLMDBDataset`.

    Args:
        source: a dataset or any iterable of single-frame ``AtomicDataDict`` s or
            ``ase.Atoms``, or the path of an ASE-readable file (e.g. an extxyz).
        file_path: the LMDB file to write; it must not exist yet.
        map_size: the largest size in bytes the file may reach.
        write_frequency: frames per write transaction.
        transforms: transforms of the returned dataset (applied when reading, not stored).
        exclude_keys: fields the returned dataset drops when reading (they are stored).
    """
    if isinstance(source, (str, os.PathLike)):
        from .ase_dataset import ASEDataset

        source = ASEDataset(check_file_exists(source, "source"))
    frames = (from_ase(item) if isinstance(item, ase.Atoms) else item for item in source)
    NequIPLMDBDataset.save_from_iterator(file_path, frames, map_size=map_size, write_frequency=write_frequency)
    return NequIPLMDBDataset(file_path, transforms=transforms, exclude_keys=exclude_keys)


class LMDBTestDataset(NequIPLMDBDataset):
    """An :class:`~nequip.data.dataset.EMTTestDataset` written to an LMDB file and read from it.

    The file is written when it does not exist yet; an existing file is reused if it holds
    ``num_frames`` frames (so several processes or stages can build the same dataset).

    Args:
        file_path: the LMDB file.
        transforms: callables ``data -> data`` applied to each frame when read.
        supercell, sigma, element, num_frames, seed: as for ``EMTTestDataset``.
    """

    def __init__(
        self,
        file_path: str,
        transforms: Optional[List[Callable]] = None,
        supercell=(4, 4, 4),
        sigma: float = 0.1,
        element="Cu",
        num_frames: int = 10,
        seed: int = 123456,
    ):
        from .emt_dataset import EMTTestDataset

        if not os.path.exists(file_path):
            emt = EMTTestDataset(supercell=supercell, sigma=sigma, element=element, num_frames=num_frames, seed=seed)
            self.save_from_iterator(file_path, emt)
        super().__init__(file_path, transforms=transforms)
        if len(self) != num_frames:
            raise ValueError(
                f"LMDBTestDataset: file_path {file_path!r} exists with {len(self)} frames, not num_frames={num_frames}"
            )
