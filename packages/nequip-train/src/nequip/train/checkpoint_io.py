"""Atomic checkpoint writes: a crash while saving never leaves a truncated checkpoint."""

import os
from typing import Any, Dict, Optional

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning checkpoint IO that writes ``PATH.tmp`` in the same folder, syncs it, and renames it to ``PATH``.

    ``os.replace`` is atomic on POSIX file systems, so ``last.ckpt`` is always either the
    previous or the new complete checkpoint.
    """

    def save_checkpoint(self, checkpoint: Dict[str, Any], path: str, storage_options: Optional[Any] = None) -> None:
        if storage_options is not None:
            raise TypeError(f"AtomicCheckpointIO takes no storage_options, got {storage_options!r}")
        path = os.fspath(path)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.tmp{os.getpid()}"
        try:
            with open(tmp, "wb") as handle:
                torch.save(checkpoint, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
