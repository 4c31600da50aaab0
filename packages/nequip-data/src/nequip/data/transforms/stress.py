"""Stress transforms: stress from virial, the opposite sign convention, NaN stress where there is none."""

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


class StressSignFlipTransform(torch.nn.Module):
    """Negate ``stress``, for data sets whose stress is positive under compression.

    Our convention (ASE's) is stress = (1/V) dE/d(strain): positive diagonal entries mean
    tension. Data in the opposite convention (e.g. VASP's pressure sign) is converted when
    read, so that the files stay as they are.
    """

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        if keys.STRESS_KEY not in data:
            raise KeyError(f"StressSignFlipTransform: the frame has no {keys.STRESS_KEY!r} field")
        data[keys.STRESS_KEY] = -data[keys.STRESS_KEY]
        return data


class AddNaNStressTransform(torch.nn.Module):
    """Give frames without ``stress`` a stress of NaN, (B, 3, 3) float64.

    Lets data sets where only some frames have stress be batched together; losses and
    metrics with ``ignore_nan: true`` then skip the NaN entries. Frames with stress are
    left unchanged.
    """

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        if keys.STRESS_KEY not in data:
            device = data[keys.POSITIONS_KEY].device
            data[keys.STRESS_KEY] = torch.full(
                (AtomicDataDict.num_frames(AtomicDataDict.with_batch_(data)), 3, 3),
                float("nan"),
                dtype=torch.float64,
                device=device,
            )
        return data
