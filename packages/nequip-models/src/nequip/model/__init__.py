"""nequip.model: NequIP model builders and loading models from checkpoints."""

__all__ = []
