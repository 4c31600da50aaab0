"""nequip.potentials: analytic pair potentials as pure tensor kernels.

Graph modules that add these terms to a model live in :mod:`nequip.nn.pair_potential`.
"""

from .elements import CHEMICAL_SYMBOLS, atomic_numbers_of
from .zbl import COULOMB_CONSTANT, coulomb_constant, zbl_pair_energy, zbl_screening

__all__ = [
    "CHEMICAL_SYMBOLS",
    "atomic_numbers_of",
    "COULOMB_CONSTANT",
    "coulomb_constant",
    "zbl_pair_energy",
    "zbl_screening",
]
