"""A checkpoint written by upstream NequIP 0.19.1's nequip-train loads in ModelFromCheckpoint with upstream's numbers.

The fixture (``data/upstream_0_19_1_nequip_gnn.ckpt``, a float64 Cu/Au NequIPGNNModel with EMA
weights after one epoch) and the energies, forces and stress that upstream's own
``ModelFromCheckpoint`` gives on three structures (``..._reference.json``) were written by
``tools/make_upstream_checkpoint.py`` in a throwaway environment holding upstream NequIP.
"""

import json
from pathlib import Path

import ase
import pytest
import torch

from nequip.data import from_ase, keys
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform
from nequip.model import ModelFromCheckpoint
from nequip.model.upstream_checkpoint import UPSTREAM_EMA_PREFIX, is_upstream_checkpoint

DATA = Path(__file__).parent / "data"
CHECKPOINT = DATA / "upstream_0_19_1_nequip_gnn.ckpt"
REFERENCE = json.loads((DATA / "upstream_0_19_1_nequip_gnn_reference.json").read_text())
RTOL = 1e-10  # float64: rounding only


def _frames():
    mapper, neighbors = ChemicalSpeciesToAtomTypeMapper(["Cu", "Au"]), NeighborListTransform(r_max=4.0)
    for frame in REFERENCE["frames"]:
        atoms = ase.Atoms(frame["symbols"], positions=frame["positions"], cell=frame["cell"], pbc=frame["pbc"])
        yield frame, neighbors(mapper(from_ase(atoms)))


def _relative_error(got, expected):
    expected = torch.as_tensor(expected, dtype=torch.float64)
    return float((got.detach().reshape(expected.shape) - expected).abs().max() / expected.abs().max())


def test_fixture_is_an_upstream_checkpoint_readable_without_code():
    checkpoint = torch.load(CHECKPOINT, weights_only=True)
    assert is_upstream_checkpoint(checkpoint) and REFERENCE["nequip_version"] == "0.19.1"
    assert any(k.startswith(UPSTREAM_EMA_PREFIX) for k in checkpoint["state_dict"])


def test_same_energies_forces_and_stress_as_upstream():
    model = ModelFromCheckpoint(str(CHECKPOINT)).eval()
    assert model.type_names == ["Cu", "Au"] and model.model_dtype == torch.float64 and model.r_max == 4.0
    checked = 0
    for frame, data in _frames():
        out = model(data)
        assert _relative_error(out[keys.TOTAL_ENERGY_KEY], frame["energy"]) < RTOL
        assert _relative_error(out[keys.FORCE_KEY], frame["forces"]) < RTOL
        if "stress" in frame:
            assert _relative_error(out[keys.STRESS_KEY], frame["stress"]) < RTOL
            checked += 1
    assert checked == 1


def test_the_ema_weights_are_the_ones_used(tmp_path):
    """Without the EMA entries, the raw weights give other numbers: the EMA mapping is what matched."""
    checkpoint = torch.load(CHECKPOINT, weights_only=True)
    checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith("ema.")}
    raw_path = tmp_path / "raw.ckpt"
    torch.save(checkpoint, raw_path)
    raw = ModelFromCheckpoint(str(raw_path)).eval()
    frame, data = next(_frames())
    assert _relative_error(raw(data)[keys.TOTAL_ENERGY_KEY], frame["energy"]) > 1e-6


def test_an_upstream_fine_tuning_checkpoint_is_refused_with_the_reason(tmp_path):
    checkpoint = torch.load(CHECKPOINT, weights_only=True)
    checkpoint["hyper_parameters"]["model"] = {
        "_target_": "nequip.model.ModelFromPackage",
        "package_path": "foundation.nequip.zip",
    }
    path = tmp_path / "fine_tuned.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(ValueError, match="comes from nequip.model.ModelFromPackage"):
        ModelFromCheckpoint(str(path))


def test_weights_that_do_not_fit_are_named(tmp_path):
    checkpoint = torch.load(CHECKPOINT, weights_only=True)
    checkpoint["hyper_parameters"]["model"]["num_features"] = 4
    path = tmp_path / "other_width.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(ValueError, match="upstream entry for .* has shape"):
        ModelFromCheckpoint(str(path))
