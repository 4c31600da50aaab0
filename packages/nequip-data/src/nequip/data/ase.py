"""Upstream NequIP's ``nequip.data.ase``: conversion between ``ase.Atoms`` and data dicts.

The implementation is :mod:`nequip.data.ase_convert`.
"""

from .ase_convert import from_ase, to_ase

__all__ = ["from_ase", "to_ase"]
