"""Upstream NequIP's ``nequip.utils`` names that extension packages import.

Each is a public path over the workspace's own implementation:
:func:`torch_default_dtype` is :func:`nequip.nn.build_scope.default_dtype`,
:data:`~nequip.utils.global_dtype._GLOBAL_DTYPE` the dtype of data and of derived
edge quantities, :class:`RankedLogger` a logger that can keep to the first process.
"""

from .dtype import torch_default_dtype
from .logger import RankedLogger

__all__ = ["RankedLogger", "torch_default_dtype"]
