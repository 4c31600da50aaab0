"""A Lightning callback for tools/bench_train.py: prints the wall time of every training epoch.

Importable by both codes' ``nequip-train`` (only ``time`` and ``lightning`` are used); the
benchmark puts ``tools/`` on ``PYTHONPATH`` and adds it to the trainer's callbacks.
"""

import time

import lightning


class EpochTimer(lightning.Callback):
    """Prints ``EPOCH_TIME <epoch> <seconds>``: wall time from the start of a training epoch to
    its end, including that epoch's validation (which Lightning runs before ``on_train_epoch_end``)."""

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        print(f"EPOCH_TIME {trainer.current_epoch} {time.perf_counter() - self._start:.4f}", flush=True)
