"""A nequip-train checkpoint (Lightning .ckpt, EMA) in the ASE calculator and through nequip-compile (export mode)."""

from pathlib import Path

import ase.build
import numpy as np
import pytest
import torch

from nequip.integrations.ase import NequIPCalculator
from nequip.model import ModelFromCheckpoint, read_model_checkpoint
from nequip.model.compile_cli import main as nequip_compile
from nequip.train.cli import run_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory, tutorial_short_run):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("run")
    try:
        run_config(ROOT / "configs", "tutorial", [*tutorial_short_run, "run=[train]"], out)
    finally:
        torch.set_num_threads(threads)
    return str(out / "last.ckpt")


def _alloy():
    atoms = ase.build.bulk("Cu", "fcc", a=3.7, cubic=True).repeat((2, 2, 2))
    atoms.set_chemical_symbols(["Cu", "Au"] * 16)
    atoms.rattle(0.05, seed=1)
    return atoms


def test_calculator_from_training_checkpoint_uses_ema(trained_checkpoint):
    payload = read_model_checkpoint(trained_checkpoint)
    assert payload.get("ema_state_dict") is not None, "the tutorial trains with EMA"
    calc = NequIPCalculator.from_checkpoint(trained_checkpoint)
    atoms = _alloy()
    atoms.calc = calc
    energy = atoms.get_potential_energy()

    raw = ModelFromCheckpoint(trained_checkpoint).eval()
    raw.load_state_dict(payload["state_dict"])
    atoms_raw = _alloy()
    atoms_raw.calc = NequIPCalculator(raw)
    ema_energy, raw_energy = energy, atoms_raw.get_potential_energy()
    assert ema_energy != pytest.approx(raw_energy, rel=1e-9, abs=1e-9), (
        "EMA and raw weights should differ after training"
    )
    assert np.isfinite(atoms.get_forces()).all() and np.isfinite(atoms.get_stress()).all()


def test_nequip_compile_of_training_checkpoint(trained_checkpoint, tmp_path):
    output = str(tmp_path / "model.pt2")
    assert nequip_compile([trained_checkpoint, output, "--mode", "export"]) == 0
    exported, eager = NequIPCalculator.from_compiled_model(output), NequIPCalculator.from_checkpoint(trained_checkpoint)
    atoms = _alloy()
    for calc in (exported, eager):
        calc.calculate(atoms, ["energy", "forces", "stress"])
    tolerance = 1e-5 if exported.model.model_dtype == torch.float32 else 1e-10
    for field in ("energy", "forces", "stress"):
        got, expected = np.atleast_1d(exported.results[field]), np.atleast_1d(eager.results[field])
        assert np.abs(got - expected).max() <= tolerance * np.abs(expected).max(), field
