"""A Lightning callback for tools/bench_train.py: prints the start of the first training step
and the wall time of every training epoch.

Importable by both codes' ``nequip-train`` (only ``time`` and ``lightning`` are used); the
benchmark puts ``tools/`` on ``PYTHONPATH`` and adds it to the trainer's callbacks.
"""

import time

import lightning


class EpochTimer(lightning.Callback):
    """Prints ``FIRST_STEP_AT <unix time>`` when the first training batch starts, and
    ``EPOCH_TIME <epoch> <seconds>``: wall time from the start of a training epoch to its end,
    including that epoch's validation (which Lightning runs before ``on_train_epoch_end``)."""

    def __init__(self) -> None:
        self._first_step_seen = False

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if not self._first_step_seen:
            self._first_step_seen = True
            print(f"FIRST_STEP_AT {time.time():.4f}", flush=True)

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        print(f"EPOCH_TIME {trainer.current_epoch} {time.perf_counter() - self._start:.4f}", flush=True)
