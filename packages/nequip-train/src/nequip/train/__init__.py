"""nequip.train: training NequIP potentials with Lightning."""

__all__ = []
