"""nequip.integrations: running trained NequIP models in simulation codes.

* :mod:`nequip.integrations.ase`: :class:`~nequip.integrations.ase.NequIPCalculator`, an
  ASE calculator for checkpoints, exported (``nequip-compile``) and in-memory models.

Nothing here imports Lightning or hydra: an MD user installs ``nequip-models`` only.
Submodules are imported explicitly (``from nequip.integrations.ase import NequIPCalculator``)
so that importing this package pulls in no simulation code.
"""

__all__: list = []
