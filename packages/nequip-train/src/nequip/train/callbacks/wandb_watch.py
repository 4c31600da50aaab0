"""``WandbWatch``: have Weights & Biases record the model's gradients and weights during training."""

import lightning
from lightning.pytorch.callbacks import Callback

#: Allowed ``log`` values (``wandb.watch``'s).
WATCH_LOG = ("gradients", "parameters", "all", None)


class WandbWatch(Callback):
    """Call ``wandb.watch`` on the model when training starts (and ``unwatch`` when it ends).

    Needs the ``wandb`` package and a ``lightning.pytorch.loggers.WandbLogger`` as the
    trainer's logger. Config example::

        trainer:
          logger:
            - _target_: lightning.pytorch.loggers.WandbLogger
              project: my_project
          callbacks:
            - _target_: nequip.train.callbacks.WandbWatch
              log_freq: 100

    Args:
        log_freq: log every this many batches.
        log: ``"gradients"`` (default), ``"parameters"``, ``"all"`` or ``None``.
        log_graph: also log the model's computation graph (default ``False``).

    Raises:
        ImportError: when ``wandb`` is not installed.
        ValueError: for another ``log`` or a ``log_freq`` below 1; when training starts, for
            a logger that is not a ``WandbLogger``.
    """

    def __init__(self, log_freq: int, log: str = "gradients", log_graph: bool = False) -> None:
        try:
            import wandb  # noqa: F401
        except ImportError as err:
            raise ImportError("WandbWatch needs the `wandb` package: pip install wandb") from err
        if log not in WATCH_LOG:
            raise ValueError(f"WandbWatch: log must be one of {list(WATCH_LOG)}, got {log!r}")
        if isinstance(log_freq, bool) or not isinstance(log_freq, int) or log_freq < 1:
            raise ValueError(f"WandbWatch: log_freq must be an integer >= 1, got {log_freq!r}")
        self.log_freq = log_freq
        self.watch_log = log
        self.log_graph = bool(log_graph)

    @staticmethod
    def _wandb_logger(trainer: lightning.Trainer):
        from lightning.pytorch.loggers import WandbLogger

        for logger in trainer.loggers:
            if isinstance(logger, WandbLogger):
                return logger
        raise ValueError(
            f"WandbWatch needs a lightning.pytorch.loggers.WandbLogger in trainer.logger, got "
            f"{[type(logger).__name__ for logger in trainer.loggers]}"
        )

    def on_train_start(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        self._wandb_logger(trainer).watch(
            pl_module.model, log=self.watch_log, log_freq=self.log_freq, log_graph=self.log_graph
        )

    def on_train_end(self, trainer: lightning.Trainer, pl_module: lightning.LightningModule) -> None:
        self._wandb_logger(trainer).experiment.unwatch(pl_module.model)
