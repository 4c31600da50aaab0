"""Stress from virial for data sets that store only the virial."""

import torch

from .. import AtomicDataDict, keys


class VirialToStressTransform(torch.nn.Module):
    """Write ``stress = -virial / volume`` (ASE sign convention) for periodic frames.

    A frame that already has ``stress`` is left unchanged; a frame without ``virial`` is an error.
    """

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        if keys.STRESS_KEY in data:
            return data
        if keys.VIRIAL_KEY not in data:
            raise KeyError(f"VirialToStressTransform: the frame has no {keys.VIRIAL_KEY!r} field")
        cell = data[keys.CELL_KEY].reshape(-1, 3, 3)
        volume = torch.linalg.det(cell).abs().reshape(-1, 1, 1)
        if (volume == 0).any():
            raise ValueError("VirialToStressTransform: a frame has zero cell volume (not periodic)")
        data[keys.STRESS_KEY] = -data[keys.VIRIAL_KEY].reshape(-1, 3, 3) / volume
        return data
