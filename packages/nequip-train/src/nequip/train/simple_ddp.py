"""``SimpleDDPStrategy``: data-parallel training that averages gradients itself.

Lightning's ``DDPStrategy`` wraps the module in ``torch.nn.parallel.DistributedDataParallel``,
which hooks into autograd to all-reduce gradient buckets during the backward pass. This
strategy keeps the module unwrapped (so ``torch.compile``-d models and several backward
passes per step, as in :class:`~nequip.train.ConFIGLightningModule`, need nothing from the
wrapper) and, after each backward pass, replaces every gradient by its mean over the
processes with one all-reduce of all gradients flattened together. Everything else (process
launch, samplers, metric syncing, checkpoints) is Lightning's DDP.

Config example::

    trainer:
      _target_: lightning.Trainer
      devices: 4
      strategy:
        _target_: nequip.train.SimpleDDPStrategy
"""

from typing import List

import torch
import torch.distributed
from lightning.pytorch.strategies import DDPStrategy


def average_gradients_(parameters: List[torch.Tensor]) -> None:
    """Replace the ``.grad`` of each parameter by its mean over the processes of the default group.

    A parameter without gradient counts as a zero gradient (and gets one), so that every
    process reduces the same flat vector whatever its batch touched.
    """
    if not parameters:
        return
    flat = torch.cat(
        [
            torch.zeros(p.numel(), dtype=p.dtype, device=p.device) if p.grad is None else p.grad.reshape(-1)
            for p in parameters
        ]
    )
    torch.distributed.all_reduce(flat, op=torch.distributed.ReduceOp.SUM)
    flat /= torch.distributed.get_world_size()
    offset = 0
    for param in parameters:
        param.grad = flat[offset : offset + param.numel()].view_as(param).clone()
        offset += param.numel()


class SimpleDDPStrategy(DDPStrategy):
    """Lightning's ``DDPStrategy`` without the ``DistributedDataParallel`` wrapper (see the module docstring).

    Takes the arguments of ``lightning.pytorch.strategies.DDPStrategy``.
    """

    def configure_ddp(self) -> None:
        """Keep the LightningModule unwrapped (gradients are averaged in :meth:`post_backward`)."""

    @property
    def restore_checkpoint_after_setup(self) -> bool:
        """Restore a checkpoint after the module was moved to its device."""
        return True

    def post_backward(self, closure_loss: torch.Tensor) -> None:
        """Average the gradients over the processes after each backward pass."""
        super().post_backward(closure_loss)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            average_gradients_([p for p in self.lightning_module.parameters() if p.requires_grad])
