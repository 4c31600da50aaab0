"""The dtype of data and of the quantities derived from positions (edge vectors and lengths).

Positions, cells, energies, forces and stresses are float64 whatever the model dtype
(see :mod:`nequip.data.keys`); modules that create tensors meant to combine with them
(cutoff tables, basis frequencies) create them in this dtype.
"""

import torch

_GLOBAL_DTYPE: torch.dtype = torch.float64

__all__ = ["_GLOBAL_DTYPE"]
