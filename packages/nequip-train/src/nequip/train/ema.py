"""``EMALightningModule``: training with an exponential moving average (EMA) of the weights.

After each optimizer step the EMA weights move towards the trained weights,
``ema <- d_n * ema + (1 - d_n) * w`` with ``d_n = min(ema_decay, (1 + n) / (10 + n))``
(``n`` the number of updates before this one), so early updates follow the weights
closely. The EMA weights are used for validation and testing (hence for the monitored
``best`` checkpoint), and are the weights of any model loaded from a checkpoint
(:func:`nequip.model.ModelFromCheckpoint` reads them from the ``ema_state_dict``).
"""

import copy
from typing import Any, Dict, Optional

import torch

from .lightning import NequIPLightningModule


class EMALightningModule(NequIPLightningModule):
    """:class:`~nequip.train.NequIPLightningModule` with an EMA of the weights.

    Args:
        ema_decay: the decay ``d`` in ``[0, 1]`` (default 0.999); 0 copies the weights, 1 freezes the EMA.
        **kwargs: arguments of :class:`~nequip.train.NequIPLightningModule`.

    Raises:
        ValueError: for a decay outside ``[0, 1]``.
    """

    def __init__(self, model: Any, ema_decay: float = 0.999, **kwargs: Any) -> None:
        if isinstance(ema_decay, bool) or not isinstance(ema_decay, (int, float)) or not 0.0 <= ema_decay <= 1.0:
            raise ValueError(f"ema_decay must be a number in [0, 1], got {ema_decay!r}")
        super().__init__(model=model, **kwargs)
        self.ema_decay = float(ema_decay)
        # a frozen copy of the model holding the EMA weights (buffers are copied from the model)
        self.ema_model = copy.deepcopy(self.model)
        for param in self.ema_model.parameters():
            param.requires_grad_(False)
        self.register_buffer("ema_num_updates", torch.zeros((), dtype=torch.long))

    def current_decay(self) -> float:
        """The decay of the next update, ``min(ema_decay, (1 + n) / (10 + n))``."""
        n = int(self.ema_num_updates)
        return min(self.ema_decay, (1.0 + n) / (10.0 + n))

    @torch.no_grad()
    def update_ema(self) -> None:
        """Move the EMA weights towards the current weights (called after each optimizer step)."""
        decay = self.current_decay()
        ema_params = list(self.ema_model.parameters())
        params = [p.detach() for p in self.model.parameters()]
        # private foreach op (as torch.optim uses): one fused update of all parameters, the same
        # numbers as ema.lerp_(param, 1 - decay) for each; torch has no public foreach API
        torch._foreach_lerp_(ema_params, params, 1.0 - decay)
        for ema_buffer, buffer in zip(self.ema_model.buffers(), self.model.buffers()):
            ema_buffer.copy_(buffer)
        self.ema_num_updates += 1

    def optimizer_step(self, *args: Any, **kwargs: Any) -> None:
        super().optimizer_step(*args, **kwargs)
        self.update_ema()

    def evaluation_model(self) -> torch.nn.Module:
        """The EMA model (used for validation, testing and checkpoints)."""
        return self.ema_model

    def evaluation_state_dict(self) -> Optional[Dict[str, torch.Tensor]]:
        """The EMA weights, stored as the checkpoint's ``ema_state_dict``."""
        return {name: tensor.detach() for name, tensor in self.ema_model.state_dict().items()}
