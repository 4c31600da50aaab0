"""Tag frames with the index of the data set they come from."""

import torch

from .. import AtomicDataDict, keys


class DatasetIndexTransform(torch.nn.Module):
    """Write ``dataset`` (B, 1) int64: the index ``dataset_index`` of the frame's data set.

    With several training data sets (e.g. of different DFT settings), a model or loss can
    tell them apart by this field.

    Args:
        dataset_index: a non-negative integer.
    """

    def __init__(self, dataset_index: int):
        super().__init__()
        if isinstance(dataset_index, bool) or not isinstance(dataset_index, int) or dataset_index < 0:
            raise ValueError(f"dataset_index must be a non-negative integer, got {dataset_index!r}")
        self.dataset_index = dataset_index

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        num_frames = AtomicDataDict.num_frames(AtomicDataDict.with_batch_(data))
        data[keys.DATASET_KEY] = torch.full(
            (num_frames, 1), self.dataset_index, dtype=torch.long, device=data[keys.POSITIONS_KEY].device
        )
        return data
