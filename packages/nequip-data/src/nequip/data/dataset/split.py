"""Reproducible random splits of a dataset into named subsets (train, val, test, ...)."""

import logging
import math
from numbers import Integral, Real
from typing import Dict, List, Union

import torch
from torch.utils.data import Dataset, Subset

logger = logging.getLogger(__name__)


def split_lengths(num_frames: int, split_dict: Dict[str, Union[int, float]]) -> Dict[str, int]:
    """Number of frames in each subset.

    Either every value is an integer count and the counts sum to ``num_frames``, or the
    values are fractions in [0, 1] summing to 1; fractions are rounded down and the frames
    left over go one each to the subsets in order, so every frame lands in exactly one
    subset (the rounding of ``torch.utils.data.random_split``).

    Args:
        num_frames: size of the dataset.
        split_dict: subset name -> count or fraction, e.g. ``{"train": 0.8, "val": 0.2}``.
    """
    if not isinstance(split_dict, dict) or len(split_dict) == 0:
        raise ValueError(f"split must be a non-empty dict of subset name -> count or fraction, got {split_dict!r}")
    for name, value in split_dict.items():
        if isinstance(value, bool) or not isinstance(value, Real) or value < 0 or math.isnan(value):
            raise ValueError(f"split {name!r} must be a non-negative count or fraction, got {value!r}")
    values = list(split_dict.values())
    if all(isinstance(v, Integral) for v in values):
        counts = {name: int(value) for name, value in split_dict.items()}
        if sum(counts.values()) != num_frames:
            raise ValueError(
                f"split counts {counts} sum to {sum(counts.values())}, but the dataset has {num_frames} frames; "
                "give counts that sum to the dataset size, or fractions that sum to 1"
            )
        return counts
    if any(v > 1 for v in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ValueError(
            f"split fractions {split_dict} sum to {sum(values)}; fractions must be in [0, 1] and sum to 1 "
            f"(or give integer counts that sum to the dataset size, {num_frames})"
        )
    counts = {name: int(math.floor(num_frames * value)) for name, value in split_dict.items()}
    names = list(counts)
    for extra in range(num_frames - sum(counts.values())):
        counts[names[extra % len(names)]] += 1
    return counts


def random_split_indices(num_frames: int, split_dict: Dict[str, Union[int, float]], seed: int) -> Dict[str, List[int]]:
    """Frame indices of each subset of a random split, the same for the same ``seed``.

    The frames are permuted with ``torch.randperm`` seeded by ``seed`` and cut into
    consecutive pieces of the sizes of :func:`split_lengths`, in the order of ``split_dict``;
    this gives the same subsets as upstream NequIP (``torch.utils.data.random_split``).
    """
    counts = split_lengths(num_frames, split_dict)
    empty = [name for name, count in counts.items() if count == 0]
    if empty:
        logger.warning("random split of %d frames by %s leaves %s empty", num_frames, split_dict, empty)
    permutation = torch.randperm(num_frames, generator=torch.Generator().manual_seed(int(seed))).tolist()
    out, start = {}, 0
    for name, count in counts.items():
        out[name] = permutation[start : start + count]
        start += count
    return out


def random_split(dataset: Dataset, split_dict: Dict[str, Union[int, float]], seed: int) -> Dict[str, Subset]:
    """Split ``dataset`` into ``{name: Subset}`` with :func:`random_split_indices`.

    Example:
        >>> subsets = random_split(list(range(10)), {"train": 0.8, "val": 0.2}, seed=1)
        >>> len(subsets["train"]), len(subsets["val"])
        (8, 2)
    """
    indices = random_split_indices(len(dataset), split_dict, seed)
    return {name: Subset(dataset, idx) for name, idx in indices.items()}


def RandomSplitAndIndexDataset(
    dataset: Dataset, split_dict: Dict[str, Union[int, float]], dataset_key: str, seed: int
) -> Subset:
    """Subset ``dataset_key`` of a random split of ``dataset`` (upstream NequIP's config target).

    Args:
        dataset: the dataset to split.
        split_dict: subset name -> count or fraction (see :func:`split_lengths`).
        dataset_key: which subset to return.
        seed: seed of the split.
    """
    if dataset_key not in split_dict:
        raise ValueError(f"dataset_key {dataset_key!r} is not one of the subsets {list(split_dict)}")
    return random_split(dataset, split_dict, seed)[dataset_key]


class SubsetByRandomSlice(Subset):
    """``length`` frames of ``dataset``, from position ``start`` of a random permutation seeded by ``seed``.

    Args:
        dataset: the dataset.
        start: first position in the permutation.
        length: number of frames.
        seed: seed of the permutation.
    """

    def __init__(self, dataset: Dataset, start: int, length: int, seed: int):
        size = len(dataset)
        if not (0 <= start and 0 <= length and start + length <= size):
            raise ValueError(
                f"start={start} and length={length} must select within the dataset's {size} frames "
                f"(0 <= start, 0 <= length, start + length <= {size})"
            )
        permutation = torch.randperm(size, generator=torch.Generator().manual_seed(int(seed)))
        super().__init__(dataset, permutation[start : start + length].tolist())
