"""Base class of the NequIP datasets: indexing, frame indices and transforms."""

import os
from numbers import Integral
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
import torch

from .. import AtomicDataDict, keys

Indices = Union[int, slice, Sequence[int], torch.Tensor, np.ndarray]


def check_file_exists(file_path, argument: str = "file_path") -> str:
    """Return ``file_path`` as a string, or raise ``FileNotFoundError`` naming ``argument``."""
    if not isinstance(file_path, (str, os.PathLike)):
        raise ValueError(f"{argument} must be a path (str), got {type(file_path).__name__} {file_path!r}")
    file_path = os.fspath(file_path)
    if not os.path.exists(file_path):
        raise FileNotFoundError(
            f"{argument} {file_path!r} does not exist (relative paths are taken from the working "
            f"directory {os.getcwd()!r})"
        )
    return file_path


def with_context(err: BaseException, message: str) -> BaseException:
    """An exception of the same type as ``err`` (``RuntimeError`` if that type cannot be
    built from a message) carrying ``message``; raise it ``from err``."""
    try:
        return type(err)(message)
    except Exception:
        return RuntimeError(message)


class AtomicDataset(torch.utils.data.Dataset):
    """A ``torch.utils.data.Dataset`` of single-frame ``AtomicDataDict`` s.

    Item ``i`` is frame ``i`` with ``frame_index`` set to ``[i]`` (shape (1,), int64) and
    the ``transforms`` applied in order; the stored frame itself is never modified.
    A list, slice or index tensor returns a list of frames (``__getitems__``, which
    ``DataLoader`` uses to fetch a whole batch at once).

    Subclasses implement ``__len__`` and ``_get_data_list(indices)``, which returns the
    untransformed frames for a list of non-negative indices, and may override
    ``describe()`` (a short name used in error messages). The hook has upstream NequIP's
    name, so that datasets written for upstream's ``AtomicDataset`` work unchanged.

    Args:
        transforms: callables ``data -> data`` applied to each frame, in order, e.g.
            ``ChemicalSpeciesToAtomTypeMapper`` then ``NeighborListTransform``.
    """

    def __init__(self, transforms: Optional[List[Callable]] = None):
        transforms = list(transforms) if transforms is not None else []
        for idx, transform in enumerate(transforms):
            if not callable(transform):
                raise ValueError(
                    f"transforms[{idx}] must be a callable (data -> data), got {type(transform).__name__} "
                    f"{transform!r}; configs with _target_ must be built before making the dataset"
                )
        self.transforms = transforms

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def _get_data_list(self, indices: List[int]) -> List[AtomicDataDict.Type]:
        """Untransformed frames at ``indices`` (non-negative, in range)."""
        raise NotImplementedError(f"{type(self).__name__} must define _get_data_list")

    def describe(self) -> str:
        """Short description used in error messages, e.g. ``ASEDataset('data.xyz')``."""
        return type(self).__name__

    def _normalize_indices(self, indices: Indices) -> List[int]:
        length = len(self)
        if isinstance(indices, slice):
            return list(range(*indices.indices(length)))
        if isinstance(indices, (torch.Tensor, np.ndarray)):
            indices = indices.reshape(-1).tolist()
        out = []
        for index in indices:
            if isinstance(index, (bool, np.bool_)) or not isinstance(index, Integral):
                raise TypeError(f"{self.describe()}: frame indices must be integers, got {index!r}")
            index = int(index)
            if not -length <= index < length:
                raise IndexError(f"{self.describe()}: frame index {index} is out of range for {length} frames")
            out.append(index % length)
        return out

    def __getitem__(self, index: Indices):
        if isinstance(index, (torch.Tensor, np.ndarray)) and index.ndim == 0:
            index = index.item()
        if isinstance(index, Integral) and not isinstance(index, (bool, np.bool_)):
            return self.__getitems__([index])[0]
        return self.__getitems__(index)

    def __getitems__(self, indices: Indices) -> List[AtomicDataDict.Type]:
        indices = self._normalize_indices(indices)
        frames = self._get_data_list(indices)
        return [self._transform(frame, index) for frame, index in zip(frames, indices)]

    def _transform(self, frame: AtomicDataDict.Type, index: int) -> AtomicDataDict.Type:
        data = dict(frame)  # transforms write new fields; the stored frame stays as it is
        data[keys.FRAME_INDEX_KEY] = torch.tensor([index], dtype=torch.long)
        for transform in self.transforms:
            try:
                data = transform(data)
            except Exception as err:
                name = getattr(transform, "__name__", type(transform).__name__)
                raise with_context(err, f"{self.describe()}, frame {index}: transform {name} failed: {err}") from err
        return data

    def num_atoms(self, indices: Indices) -> List[int]:
        """Number of atoms of the frames at ``indices`` (without applying the transforms)."""
        return [AtomicDataDict.num_nodes(frame) for frame in self._get_data_list(self._normalize_indices(indices))]

    def __repr__(self) -> str:
        return f"{self.describe()} with {len(self)} frames"
