"""``NequIPLightningModule``: a model, its loss, metrics, optimizer and LR scheduler, for Lightning.

Every argument but ``num_datasets`` is a config (a dict with ``_target_``, as hydra reads
it from a YAML file); the module builds the objects itself, so that the model is built by
its model builder (seeded, in its ``model_dtype``) and the metrics get the model's
``type_names``. Logged names follow upstream NequIP, ``/`` separating the group:
``train_loss_step/NAME``, ``train_loss_epoch/NAME``, ``train_metric_epoch/NAME``,
``val{i}_epoch/NAME`` and ``test{i}_epoch/NAME`` (``i`` the index of the data set), where
``NAME`` is a metric name or ``weighted_sum``; e.g. ``val0_epoch/weighted_sum``.

Checkpoints carry the model under :data:`nequip.model.CHECKPOINT_KEY` (so
:func:`nequip.model.ModelFromCheckpoint` loads ``best.ckpt`` and ``last.ckpt``) and the
training-data statistics under :data:`STATS_CHECKPOINT_KEY`.
"""

import copy
import inspect
from typing import Any, Dict, List, Mapping, Optional

import lightning
import torch

from nequip.data import AtomicDataDict
from nequip.data.instantiation import instantiate, locate, to_plain
from nequip.model import CHECKPOINT_KEY, model_checkpoint_payload, model_from_config

from .metrics_manager import MetricsManager
from .optimization import build_lr_scheduler, build_optimizer

#: Checkpoint key of the training-data statistics of a run (``{name: value}``).
STATS_CHECKPOINT_KEY = "nequip_training_data_stats"
#: Checkpoint key of the ReduceLROnPlateau steps of the epoch that was ending when the checkpoint
#: was written (Lightning takes them after saving and skips them on restart).
PLATEAU_CHECKPOINT_KEY = "nequip_pending_plateau_steps"
#: Logging group separator.
DELIMITER = "/"
#: Prefix of the logged per-batch loss values.
LOSS_STEP_PREFIX = f"train_loss_step{DELIMITER}"

_SCHEDULER_KEYS = ("scheduler", "interval", "frequency", "monitor", "strict", "name")


def _build_metrics(config: Any, type_names, argument: str) -> Optional[MetricsManager]:
    """Build a ``MetricsManager`` config, giving it the model's ``type_names`` if it takes them."""
    if config is None:
        return None
    config = to_plain(config)
    if isinstance(config, MetricsManager):
        return config
    if not isinstance(config, dict) or "_target_" not in config:
        raise ValueError(
            f"{argument} must be a config with a _target_ (e.g. nequip.train.EnergyForceMetrics), got {config!r}"
        )
    target = locate(config["_target_"])
    extra = {}
    if "type_names" not in config and "type_names" in inspect.signature(target).parameters:
        extra["type_names"] = type_names
    built = instantiate(config, **extra)
    if not isinstance(built, MetricsManager):
        raise ValueError(
            f"{argument} must build a nequip.train.MetricsManager, {config['_target_']} gave a {type(built).__name__}"
        )
    return built


class NequIPLightningModule(lightning.LightningModule):
    """Trains a NequIP model (see the module docstring).

    Args:
        model: model config (``_target_`` a model builder, e.g. ``nequip.model.NequIPGNNModel``).
        optimizer: optimizer config without ``params`` (e.g. ``{_target_: torch.optim.Adam, lr: 0.01}``),
            optionally with ``param_groups`` (see :mod:`nequip.train.optimization`).
        lr_scheduler: optional Lightning LR-scheduler config: ``scheduler`` (a scheduler config
            without ``optimizer``; nested schedulers under ``schedulers``) and Lightning's
            ``monitor``, ``interval``, ``frequency``.
        loss: loss config (a ``MetricsManager`` builder, e.g. ``nequip.train.EnergyForceLoss``).
        train_metrics, val_metrics, test_metrics: optional metrics configs.
        num_datasets: ``{"val": n, "test": m}``, the number of validation and test data sets
            (each gets its own metrics); default one each.

    Raises:
        ValueError: for a missing ``model``, ``loss`` or ``optimizer``, an LR-scheduler
            config with unknown keys, or configs that do not build the expected objects.
    """

    def __init__(
        self,
        model: Any,
        optimizer: Any = None,
        lr_scheduler: Optional[Any] = None,
        loss: Any = None,
        train_metrics: Optional[Any] = None,
        val_metrics: Optional[Any] = None,
        test_metrics: Optional[Any] = None,
        num_datasets: Optional[Mapping[str, int]] = None,
    ) -> None:
        super().__init__()
        for name, value in (("model", model), ("optimizer", optimizer), ("loss", loss)):
            if value is None:
                raise ValueError(f"training_module needs a `{name}` config")
        self.optimizer_config = to_plain(optimizer)
        self.lr_scheduler_config = to_plain(lr_scheduler)
        if self.lr_scheduler_config is not None:
            if not isinstance(self.lr_scheduler_config, dict) or "scheduler" not in self.lr_scheduler_config:
                raise ValueError(
                    f"lr_scheduler must be a dict with a `scheduler` config and Lightning keys {list(_SCHEDULER_KEYS[1:])}, got {lr_scheduler!r}"
                )
            unknown = sorted(set(self.lr_scheduler_config) - set(_SCHEDULER_KEYS))
            if unknown:
                raise ValueError(f"lr_scheduler has unknown keys {unknown}; allowed are {list(_SCHEDULER_KEYS)}")
        self.model = self._build_model(model)
        type_names = list(getattr(self.model, "type_names", []) or []) or None
        self.loss = _build_metrics(loss, type_names, "loss")
        counts = {"val": 1, "test": 1, **dict(num_datasets or {})}
        self.train_metrics = _build_metrics(train_metrics, type_names, "train_metrics")
        self.val_metrics = self._per_dataset(val_metrics, counts["val"], type_names, "val_metrics")
        self.test_metrics = self._per_dataset(test_metrics, counts["test"], type_names, "test_metrics")
        #: training-data statistics stored in checkpoints (set by the CLI)
        self.training_data_stats: Optional[Dict[str, Any]] = None

    @staticmethod
    def _build_model(config: Any) -> torch.nn.Module:
        """A built model as it is, or a model builder config built by :func:`nequip.model.model_from_config`
        (non-recursively: nested configs such as ``pair_potential`` go to the builder unbuilt)."""
        if isinstance(config, torch.nn.Module):
            return config
        return model_from_config(config)

    @staticmethod
    def _per_dataset(config, count: int, type_names, argument: str) -> Optional[torch.nn.ModuleList]:
        first = _build_metrics(config, type_names, argument)
        if first is None:
            return None
        return torch.nn.ModuleList([first] + [copy.deepcopy(first) for _ in range(count - 1)])

    # === model ===

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        """Predictions of the model being trained for a batch (the input dict is not modified)."""
        return self.model(dict(data))

    def evaluation_model(self) -> torch.nn.Module:
        """The model used for validation, testing and exported checkpoints (here the trained one)."""
        return self.model

    def evaluation_state_dict(self) -> Optional[Dict[str, torch.Tensor]]:
        """Weights stored as the checkpoint's ``ema_state_dict`` (none here)."""
        return None

    # === optimization ===

    def configure_optimizers(self):
        optimizer = build_optimizer(self.optimizer_config, self.model)
        if self.lr_scheduler_config is None:
            return optimizer
        scheduler_config = dict(self.lr_scheduler_config)
        scheduler = build_lr_scheduler(scheduler_config.pop("scheduler"), optimizer)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, **scheduler_config}}

    # === loops ===

    def training_losses(self, batch: AtomicDataDict.Type) -> Dict[str, torch.Tensor]:
        """Predict a training batch, accumulate the training metrics and log and return its losses.

        Returns:
            ``{"train_loss_step/NAME": value}`` for each loss term and ``weighted_sum``
            (differentiable).
        """
        output = self(batch)
        frames = AtomicDataDict.num_frames(batch)
        if self.train_metrics is not None:
            with torch.no_grad():
                self.train_metrics(_detached(output), batch, prefix=f"train_metric_step{DELIMITER}")
        losses = self.loss(output, batch, prefix=LOSS_STEP_PREFIX)
        self.log_dict({k: v.detach() for k, v in losses.items()}, batch_size=frames)
        return losses

    def training_step(self, batch: AtomicDataDict.Type, batch_idx: int) -> torch.Tensor:
        return self.training_losses(batch)[f"{LOSS_STEP_PREFIX}weighted_sum"]

    def on_train_epoch_start(self) -> None:
        self.loss.reset()
        if self.train_metrics is not None:
            self.train_metrics.reset()

    def on_train_epoch_end(self) -> None:
        values = self.loss.compute(prefix=f"train_loss_epoch{DELIMITER}")
        if self.train_metrics is not None:
            values.update(self.train_metrics.compute(prefix=f"train_metric_epoch{DELIMITER}"))
        self.log_dict(values)

    def _evaluate(
        self, batch: AtomicDataDict.Type, managers: Optional[torch.nn.ModuleList], dataloader_idx: int
    ) -> AtomicDataDict.Type:
        """Predictions of the evaluation model (detached), accumulated in ``managers[dataloader_idx]``."""
        output = _detached(self.evaluation_model()(dict(batch)))
        if managers is not None:
            managers[dataloader_idx](output, batch)
        return output

    @staticmethod
    def _reset(managers: Optional[torch.nn.ModuleList]) -> None:
        for manager in managers or ():
            manager.reset()

    def _log_epoch(self, managers: Optional[torch.nn.ModuleList], stage: str) -> None:
        if managers is None:
            return
        for index, manager in enumerate(managers):
            self.log_dict(manager.compute(prefix=f"{stage}{index}_epoch{DELIMITER}"))
            manager.reset()

    def validation_step(self, batch: AtomicDataDict.Type, batch_idx: int, dataloader_idx: int = 0) -> Dict[str, Any]:
        """Returns the predictions (detached), which callbacks receive as ``outputs``."""
        return self._evaluate(batch, self.val_metrics, dataloader_idx)

    def on_validation_epoch_start(self) -> None:
        self._reset(self.val_metrics)

    def on_validation_epoch_end(self) -> None:
        self._log_epoch(self.val_metrics, "val")

    def test_step(self, batch: AtomicDataDict.Type, batch_idx: int, dataloader_idx: int = 0) -> Dict[str, Any]:
        """Returns the predictions (detached), which callbacks receive as ``outputs``."""
        return self._evaluate(batch, self.test_metrics, dataloader_idx)

    def on_test_epoch_start(self) -> None:
        self._reset(self.test_metrics)

    def on_test_epoch_end(self) -> None:
        self._log_epoch(self.test_metrics, "test")

    # === checkpoints ===

    def on_save_checkpoint(self, checkpoint: Dict[str, Any]) -> None:
        checkpoint[CHECKPOINT_KEY] = model_checkpoint_payload(self.model, self.evaluation_state_dict())
        if self.training_data_stats is not None:
            checkpoint[STATS_CHECKPOINT_KEY] = to_plain(self.training_data_stats)

        checkpoint[PLATEAU_CHECKPOINT_KEY] = self._pending_plateau_steps()

    def _pending_plateau_steps(self) -> List[List[Any]]:
        """``[[scheduler index, monitored value]]`` of the plateau steps still due at the end of this epoch.

        Checkpoints are written in the epoch-end hooks, before Lightning steps
        ``ReduceLROnPlateau``; on restart Lightning skips that step (it has no metrics), so
        the value is stored and the step taken in :meth:`on_train_start`.
        """
        trainer = self._trainer
        if trainer is None or not trainer.training or not trainer.fit_loop.epoch_loop._num_ready_batches_reached():
            return []
        pending = []
        for index, config in enumerate(trainer.lr_scheduler_configs):
            due = config.interval == "epoch" and (trainer.current_epoch + 1) % config.frequency == 0
            value = trainer.callback_metrics.get(config.monitor) if config.monitor else None
            if config.reduce_on_plateau and due and value is not None:
                pending.append([index, float(value)])
        return pending

    def on_load_checkpoint(self, checkpoint: Dict[str, Any]) -> None:
        if STATS_CHECKPOINT_KEY in checkpoint:
            self.training_data_stats = checkpoint[STATS_CHECKPOINT_KEY]
        self._restored_plateau_steps = checkpoint.get(PLATEAU_CHECKPOINT_KEY, [])

    def on_train_start(self) -> None:
        # take the plateau steps of the epoch the restart checkpoint was written in (see _pending_plateau_steps)
        configs = self.trainer.lr_scheduler_configs
        for index, value in getattr(self, "_restored_plateau_steps", []):
            self.lr_scheduler_step(configs[index].scheduler, torch.tensor(value, dtype=torch.float64))
        self._restored_plateau_steps = []


def _detached(data: AtomicDataDict.Type) -> AtomicDataDict.Type:
    return {key: value.detach() if isinstance(value, torch.Tensor) else value for key, value in data.items()}
