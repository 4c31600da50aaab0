"""Random splits: sizes from fractions or counts, reproducibility, agreement with torch."""

import pytest
import torch

from nequip.data.dataset import (
    RandomSplitAndIndexDataset,
    SubsetByRandomSlice,
    random_split,
    random_split_indices,
    split_lengths,
)


@pytest.mark.filterwarnings("ignore:Length of split at index")
@pytest.mark.parametrize("num_frames", [1, 7, 10, 11, 19, 100, 101])
@pytest.mark.parametrize("fractions", [[0.8, 0.1, 0.1], [0.5, 0.5], [0.9, 0.05, 0.03, 0.02], [1.0]])
def test_fractions_match_torch_random_split(num_frames, fractions):
    split_dict = {f"s{i}": f for i, f in enumerate(fractions)}
    ours = random_split_indices(num_frames, split_dict, seed=123)
    generator = torch.Generator().manual_seed(123)
    reference = torch.utils.data.random_split(range(num_frames), fractions, generator=generator)
    assert [ours[f"s{i}"] for i in range(len(fractions))] == [list(subset.indices) for subset in reference]
    # a partition: every frame exactly once
    assert sorted(i for idx in ours.values() for i in idx) == list(range(num_frames))


def test_lengths_rounding_and_counts():
    assert split_lengths(10, {"train": 0.8, "val": 0.1, "test": 0.1}) == {"train": 8, "val": 1, "test": 1}
    # 11 * (0.8, 0.1, 0.1) = (8.8, 1.1, 1.1): floors (8, 1, 1), the leftover frame goes to train
    assert split_lengths(11, {"train": 0.8, "val": 0.1, "test": 0.1}) == {"train": 9, "val": 1, "test": 1}
    assert split_lengths(10, {"train": 7, "val": 3}) == {"train": 7, "val": 3}
    assert split_lengths(10, {"train": 1.0, "val": 0}) == {"train": 10, "val": 0}


def test_same_seed_same_split_other_seed_other_split():
    split_dict = {"train": 30, "val": 10, "test": 10}
    a = random_split_indices(50, split_dict, seed=1)
    assert a == random_split_indices(50, split_dict, seed=1)
    b = random_split_indices(50, split_dict, seed=2)
    assert a["train"] != b["train"]
    assert set(a["train"]).isdisjoint(a["val"]) and set(a["val"]).isdisjoint(a["test"])


@pytest.mark.parametrize(
    "split_dict, message",
    [
        ({"train": 0.8, "val": 0.1}, r"sum to 0.9.*fractions must be in \[0, 1\] and sum to 1"),
        ({"train": 0.8, "val": 0.3}, "sum to 1.1"),
        ({"train": 8, "val": 1}, "sum to 9, but the dataset has 10 frames"),
        ({"train": 11, "val": 0}, "sum to 11, but the dataset has 10 frames"),
        ({"train": -0.5, "val": 1.5}, "'train' must be a non-negative count or fraction, got -0.5"),
        ({"train": "0.8", "val": 0.2}, "'train' must be a non-negative count or fraction"),
        ({"train": True, "val": 0}, "'train' must be a non-negative count or fraction"),
        ({}, "non-empty dict"),
    ],
)
def test_inconsistent_splits_raise(split_dict, message):
    with pytest.raises(ValueError, match=message):
        split_lengths(10, split_dict)


def test_subset_helpers():
    data = list(range(20))
    subsets = random_split(data, {"train": 0.75, "val": 0.25}, seed=4)
    assert len(subsets["train"]) == 15 and len(subsets["val"]) == 5
    val = RandomSplitAndIndexDataset(data, {"train": 0.75, "val": 0.25}, "val", seed=4)
    assert list(val) == list(subsets["val"])
    with pytest.raises(ValueError, match="dataset_key 'test' is not one of the subsets"):
        RandomSplitAndIndexDataset(data, {"train": 0.75, "val": 0.25}, "test", seed=4)
    sliced = SubsetByRandomSlice(data, start=15, length=5, seed=4)
    assert list(sliced) == list(subsets["val"])  # the same permutation, cut at 15
    with pytest.raises(ValueError, match="start=18 and length=5"):
        SubsetByRandomSlice(data, start=18, length=5, seed=4)
