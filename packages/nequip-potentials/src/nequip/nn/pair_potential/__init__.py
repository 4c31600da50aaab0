"""Analytic pair potentials as graph modules (``pair_potential`` of NequIP models).

The tensor kernels they call are in :mod:`nequip.potentials`.
"""

from .zbl import ZBL

__all__ = ["ZBL"]
