"""``PartialSampler``: epochs of a fixed number of frames, cycling through a dataset without replacement."""

from typing import Iterator, Optional, Sized

import torch
from torch.utils.data import Sampler


class PartialSampler(Sampler[int]):
    """Draws ``num_samples_per_epoch`` indices per epoch, going through the dataset without replacement.

    Think of the dataset's passes as one endless sequence: pass ``p`` is a permutation of
    ``range(len(data_source))`` (seeded by ``generator.initial_seed() + p``), or the
    identity without ``shuffle``. Epoch ``e`` takes positions ``e * n`` to ``(e + 1) * n``
    of that sequence, ``n = num_samples_per_epoch``, so an epoch may end one pass and start
    the next; every frame is drawn once per pass. The indices of an epoch depend only on
    the epoch number and the generator's initial seed (kept in its state), so a restarted
    run draws the same frames: call :meth:`step_epoch` with the epoch about to run; without
    it, each iteration is the epoch after the previous one (the first is epoch 0).

    Args:
        data_source: the dataset (only its length is used, read at every iteration).
        shuffle: permute each pass; without it every pass is ``0, 1, ..., len - 1``.
        num_samples_per_epoch: indices per epoch, 1 to ``len(data_source)``; default: the
            whole dataset.
        generator: its ``initial_seed()`` seeds the passes; needed with ``shuffle``.

    Example:
        >>> sampler = PartialSampler(range(5), shuffle=False, num_samples_per_epoch=3)
        >>> [list(sampler) for _ in range(3)]
        [[0, 1, 2], [3, 4, 0], [1, 2, 3]]
    """

    def __init__(
        self,
        data_source: Sized,
        shuffle: bool = True,
        num_samples_per_epoch: Optional[int] = None,
        generator: Optional[torch.Generator] = None,
    ) -> None:
        self.data_source = data_source
        self.shuffle = bool(shuffle)
        total = len(data_source)
        if num_samples_per_epoch is None:
            num_samples_per_epoch = total
        if isinstance(num_samples_per_epoch, bool) or not isinstance(num_samples_per_epoch, int):
            raise ValueError(f"num_samples_per_epoch must be an integer, got {num_samples_per_epoch!r}")
        if not 1 <= num_samples_per_epoch <= total:
            raise ValueError(
                f"num_samples_per_epoch must be in 1..{total} (the dataset's size), got {num_samples_per_epoch}"
            )
        if self.shuffle and generator is None:
            raise ValueError("PartialSampler with shuffle=True needs a generator (its initial seed seeds every pass)")
        self.num_samples_per_epoch = num_samples_per_epoch
        self.generator = generator
        self._next_epoch = 0

    @property
    def num_samples_total(self) -> int:
        """The dataset's current length."""
        return len(self.data_source)

    def step_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch`` (>= 0)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be a non-negative integer, got {epoch!r}")
        self._next_epoch = epoch

    def _pass(self, index: int) -> torch.Tensor:
        if not self.shuffle:
            return torch.arange(self.num_samples_total)
        seeded = torch.Generator().manual_seed(self.generator.initial_seed() + index)
        return torch.randperm(self.num_samples_total, generator=seeded)

    def __iter__(self) -> Iterator[int]:
        epoch, self._next_epoch = self._next_epoch, self._next_epoch + 1
        total, size = self.num_samples_total, self.num_samples_per_epoch
        if size > total:
            raise ValueError(f"num_samples_per_epoch {size} is larger than the dataset, which now has {total} frames")
        first_pass, start = divmod(epoch * size, total)
        # an epoch spans at most two passes, since size <= total
        order = torch.cat([self._pass(first_pass), self._pass(first_pass + 1)])[start : start + size]
        return iter(order.tolist())

    def __len__(self) -> int:
        return self.num_samples_per_epoch
