"""``ScheduleFreeLightningModule``: training with a schedule-free optimizer (Defazio et al., 2024).

Schedule-free optimizers (the ``schedulefree`` package, ``pip install
'nequip-train[schedulefree]'``) train at one point ``y`` and evaluate at an average ``x`` of
the iterates; their ``train()`` and ``eval()`` move the model's weights between the two.
This module puts the optimizer in ``train`` mode for training batches and in ``eval`` mode
for validation, testing and prediction, and back to ``train`` after a validation inside a
fit. Checkpoints hold the weights and optimizer state of the same moment (so a restart is
exact), and their model payload (what :func:`nequip.model.ModelFromCheckpoint` loads) holds
the averaged weights ``x``. A validation or test run from a checkpoint (no optimizer of
its own) rebuilds the optimizer from the checkpoint's state to reach ``x``.
"""

from typing import Any, Dict, Optional

import torch
from lightning.pytorch.trainer.states import TrainerFn

from nequip.data.instantiation import to_plain

from .lightning import NequIPLightningModule
from .optimization import build_optimizer

#: Optimizers of the ``schedulefree`` package this module drives (last part of ``_target_``).
SCHEDULE_FREE_OPTIMIZERS = ("AdamWScheduleFree", "SGDScheduleFree", "RAdamScheduleFree")


def _require_schedulefree() -> None:
    try:
        import schedulefree  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "ScheduleFreeLightningModule needs the `schedulefree` package: pip install 'nequip-train[schedulefree]'"
        ) from err


class ScheduleFreeLightningModule(NequIPLightningModule):
    """:class:`~nequip.train.NequIPLightningModule` with a schedule-free optimizer (see the module docstring).

    Config example::

        training_module:
          _target_: nequip.train.ScheduleFreeLightningModule
          optimizer:
            _target_: schedulefree.AdamWScheduleFree
            lr: 0.01
            warmup_steps: 100

    Args:
        optimizer: config of one of ``schedulefree.AdamWScheduleFree``, ``SGDScheduleFree``,
            ``RAdamScheduleFree`` (no LR scheduler is needed).
        **kwargs: the other arguments of :class:`~nequip.train.NequIPLightningModule`.

    Raises:
        ImportError: when ``schedulefree`` is not installed.
        ValueError: for another optimizer.
    """

    def __init__(self, optimizer: Any, **kwargs: Any) -> None:
        _require_schedulefree()
        config = to_plain(optimizer)
        target = config.get("_target_") if isinstance(config, dict) else None
        if not isinstance(target, str) or target.rsplit(".", 1)[-1] not in SCHEDULE_FREE_OPTIMIZERS:
            raise ValueError(
                f"ScheduleFreeLightningModule needs a schedule-free optimizer, one of "
                f"{['schedulefree.' + name for name in SCHEDULE_FREE_OPTIMIZERS]}, got _target_={target!r}"
            )
        super().__init__(optimizer=optimizer, **kwargs)
        # optimizer state of a loaded checkpoint, for evaluation runs that have no optimizer of their own
        self._checkpoint_optimizer_state: Optional[Dict[str, Any]] = None

    def _fitting(self) -> bool:
        return self._trainer is not None and self.trainer.state.fn == TrainerFn.FITTING

    def _trainer_optimizer(self) -> Optional[torch.optim.Optimizer]:
        optimizers = self.trainer.optimizers if self._trainer is not None else []
        return optimizers[0] if optimizers else None

    def _evaluation_optimizer(self) -> Optional[torch.optim.Optimizer]:
        """The optimizer whose ``eval()`` gives the averaged weights of the model as it is now."""
        if not self._fitting() and self._checkpoint_optimizer_state is not None:
            optimizer = build_optimizer(self.optimizer_config, self.model)
            optimizer.load_state_dict(self._checkpoint_optimizer_state)
            self._checkpoint_optimizer_state = None
            return optimizer
        return self._trainer_optimizer()

    def _use_averaged_weights(self) -> None:
        optimizer = self._evaluation_optimizer()
        if optimizer is not None:
            optimizer.eval()

    def on_train_epoch_start(self) -> None:
        super().on_train_epoch_start()
        self._trainer_optimizer().train()

    def on_validation_epoch_start(self) -> None:
        super().on_validation_epoch_start()
        self._use_averaged_weights()

    def on_validation_epoch_end(self) -> None:
        super().on_validation_epoch_end()
        if self._fitting():
            self._trainer_optimizer().train()

    def on_test_epoch_start(self) -> None:
        super().on_test_epoch_start()
        self._use_averaged_weights()

    def on_predict_epoch_start(self) -> None:
        self._use_averaged_weights()

    def evaluation_state_dict(self) -> Optional[Dict[str, torch.Tensor]]:
        """The averaged weights ``x`` (stored as the checkpoint's ``ema_state_dict``), the model left unchanged."""
        optimizer = self._trainer_optimizer()
        if optimizer is None:
            return None
        params = list(self.model.parameters())
        current = [p.detach().clone() for p in params]
        in_train_mode = any(group["train_mode"] for group in optimizer.param_groups)
        optimizer.eval()
        state = {name: tensor.detach().clone() for name, tensor in self.model.state_dict().items()}
        if in_train_mode:
            optimizer.train()
        with torch.no_grad():
            for param, value in zip(params, current):
                param.copy_(value)
        return state

    def on_load_checkpoint(self, checkpoint: Dict[str, Any]) -> None:
        super().on_load_checkpoint(checkpoint)
        states = checkpoint.get("optimizer_states") or []
        self._checkpoint_optimizer_state = states[0] if states else None
