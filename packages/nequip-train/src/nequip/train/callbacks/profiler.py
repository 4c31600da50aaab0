"""``TorchProfilerCallback``: profile training batches with ``torch.profiler`` and write Chrome traces."""

import logging
import os
import shutil
import socket
from typing import List, Optional, Sequence

import lightning
import torch
from lightning.pytorch.callbacks import Callback

logger = logging.getLogger(__name__)

#: Suffix of the trace files (read by ``chrome://tracing``, Perfetto and TensorBoard's profiler plugin).
TRACE_SUFFIX = ".pt.trace.json"


def profiler_activities(names: Optional[Sequence[str]]) -> List[torch.profiler.ProfilerActivity]:
    """``torch.profiler.ProfilerActivity`` members by name (``None``: CPU, and CUDA when available).

    Raises:
        ValueError: for a name that is not an activity.
    """
    if names is None:
        return [torch.profiler.ProfilerActivity.CPU] + (
            [torch.profiler.ProfilerActivity.CUDA] if torch.cuda.is_available() else []
        )
    members = torch.profiler.ProfilerActivity.__members__
    by_name = {name.upper(): member for name, member in members.items()}
    unknown = [name for name in names if str(name).upper() not in by_name]
    if unknown:
        raise ValueError(f"TorchProfilerCallback: unknown activities {unknown}; allowed are {sorted(members)}")
    return [by_name[str(name).upper()] for name in names]


class TorchProfilerCallback(Callback):
    """Profile training batches with ``torch.profiler`` on a ``wait``/``warmup``/``active`` schedule.

    Profiling starts with the first training batch (after Lightning's sanity-check
    validation). Each completed cycle of ``wait + warmup + active`` batches writes
    ``{host}_{pid}.cycle{N}.pt.trace.json`` to ``profile_dir`` (copied to ``chrome_trace_dir``
    when given) and, with ``summary_rows > 0``, the profiler's table of the most expensive
    operators to ``{host}_{pid}.cycle{N}.txt``. A run shorter than one cycle writes nothing
    (a warning says so when training starts and ends). The profiler stops at the end of
    training, or when training fails.

    Config example::

        callbacks:
          - _target_: nequip.train.callbacks.TorchProfilerCallback
            profile_dir: ${hydra:runtime.output_dir}/profiler
            wait: 5
            warmup: 3
            active: 5

    Args:
        profile_dir: folder of the traces (default ``profiler``).
        chrome_trace_dir: another folder to copy the traces to (default ``None``).
        wait, warmup, active: batches skipped, warmed up on and recorded in each cycle
            (defaults 1, 1, 3; ``active >= 1``).
        repeat: number of cycles, 0 for as many as training lasts (default 1).
        ranks: global ranks that profile (default ``(0,)``; ``None``: all).
        record_shapes, with_stack, with_modules, profile_memory: ``torch.profiler.profile`` options.
        activities: names of ``torch.profiler.ProfilerActivity`` members (default CPU, and CUDA when available).
        summary_rows: rows of the summary table, 0 for none (default 30).

    Raises:
        ValueError: for negative counts, ``active`` below 1 or unknown activities.
    """

    def __init__(
        self,
        profile_dir: str = "profiler",
        chrome_trace_dir: Optional[str] = None,
        wait: int = 1,
        warmup: int = 1,
        active: int = 3,
        repeat: int = 1,
        ranks: Optional[Sequence[int]] = (0,),
        record_shapes: bool = True,
        with_stack: bool = False,
        with_modules: bool = False,
        profile_memory: bool = False,
        activities: Optional[Sequence[str]] = None,
        summary_rows: int = 30,
    ) -> None:
        counts = {"wait": wait, "warmup": warmup, "active": active, "repeat": repeat, "summary_rows": summary_rows}
        bad = {name: value for name, value in counts.items() if isinstance(value, bool) or not isinstance(value, int)}
        if bad or min(counts.values()) < 0 or active < 1:
            raise ValueError(f"TorchProfilerCallback: counts must be integers >= 0 and active >= 1, got {counts}")
        self.profile_dir = profile_dir
        self.chrome_trace_dir = chrome_trace_dir
        self.wait, self.warmup, self.active, self.repeat = wait, warmup, active, repeat
        self.ranks = None if ranks is None else [int(rank) for rank in ranks]
        self.options = {
            "record_shapes": record_shapes,
            "with_stack": with_stack,
            "with_modules": with_modules,
            "profile_memory": profile_memory,
        }
        self.activities = profiler_activities(activities)
        self.summary_rows = summary_rows
        self._profiler: Optional[torch.profiler.profile] = None
        #: paths of the traces written so far
        self.traces: List[str] = []

    @property
    def cycle_batches(self) -> int:
        """Training batches of one profiling cycle."""
        return self.wait + self.warmup + self.active

    def on_train_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        if self._profiler is not None or (self.ranks is not None and trainer.global_rank not in self.ranks):
            return
        planned = (
            trainer.num_training_batches * trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else None
        )
        if trainer.max_steps is not None and trainer.max_steps > 0:
            planned = trainer.max_steps if planned is None else min(planned, trainer.max_steps)
        if planned is not None and planned < self.cycle_batches:
            logger.warning(
                f"TorchProfilerCallback: one profiling cycle needs {self.cycle_batches} training batches, "
                f"this run has at most {planned}; no trace will be written"
            )
        os.makedirs(self.profile_dir, exist_ok=True)
        self._profiler = torch.profiler.profile(
            activities=self.activities,
            schedule=torch.profiler.schedule(
                wait=self.wait, warmup=self.warmup, active=self.active, repeat=self.repeat
            ),
            on_trace_ready=self._write_trace,
            **self.options,
        )
        self._profiler.__enter__()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._profiler is not None:
            self._profiler.step()

    def on_train_end(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        self._stop()

    def on_exception(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule, exception) -> None:
        self._stop()

    def teardown(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule, stage: str) -> None:
        self._stop()  # the profiler is process-wide: never leave it running

    def _stop(self) -> None:
        if self._profiler is None:
            return
        profiler, self._profiler = self._profiler, None
        profiler.__exit__(None, None, None)
        if not self.traces:
            logger.warning(
                f"TorchProfilerCallback wrote no trace: training ended before a cycle of {self.cycle_batches} batches"
            )

    def _write_trace(self, profiler: torch.profiler.profile) -> None:
        base = f"{socket.gethostname()}_{os.getpid()}.cycle{len(self.traces)}"
        path = os.path.abspath(os.path.join(self.profile_dir, base + TRACE_SUFFIX))
        profiler.export_chrome_trace(path)  # a trace can be exported once only: copies are made from the file
        self.traces.append(path)
        if self.chrome_trace_dir is not None:
            os.makedirs(self.chrome_trace_dir, exist_ok=True)
            shutil.copyfile(path, os.path.join(self.chrome_trace_dir, base + TRACE_SUFFIX))
        if self.summary_rows > 0:
            uses_cuda = torch.profiler.ProfilerActivity.CUDA in self.activities
            table = profiler.key_averages().table(
                sort_by="self_cuda_time_total" if uses_cuda else "self_cpu_time_total", row_limit=self.summary_rows
            )
            with open(os.path.join(self.profile_dir, base + ".txt"), "w") as handle:
                handle.write(table + "\n")
