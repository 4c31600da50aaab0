"""A logger adapter that can keep its messages to the first process of a distributed run."""

import logging
import os
from typing import Any, Mapping, Optional, Tuple

import torch


def process_rank() -> int:
    """This process's rank: ``torch.distributed``'s when initialized, else ``$RANK``, else 0."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return int(os.environ.get("RANK", "0"))


class RankedLogger(logging.LoggerAdapter):
    """``logging.getLogger(name)`` whose messages are prefixed with the process rank.

    Args:
        name: name of the underlying logger.
        rank_zero_only: log only on the process of rank 0 (see :func:`process_rank`).
        extra: context passed on to ``logging.LoggerAdapter``.

    Example:
        >>> RankedLogger("demo", rank_zero_only=True).rank_zero_only
        True
    """

    def __init__(self, name: str = __name__, rank_zero_only: bool = False, extra: Optional[Mapping[str, Any]] = None):
        super().__init__(logging.getLogger(name), extra)
        self.rank_zero_only = rank_zero_only

    def process(self, msg: Any, kwargs: Any) -> Tuple[Any, Any]:
        return f"[rank: {process_rank()}] {msg}", kwargs

    def log(self, level: int, msg: Any, *args: Any, rank: Optional[int] = None, **kwargs: Any) -> None:
        """Log ``msg`` at ``level``; only on rank 0 if ``rank_zero_only``, only on ``rank`` if given."""
        current = process_rank()
        if (self.rank_zero_only and current != 0) or (rank is not None and current != rank):
            return
        if self.isEnabledFor(level):
            msg, kwargs = self.process(msg, kwargs)
            self.logger.log(level, msg, *args, **kwargs)
