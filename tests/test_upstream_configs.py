"""Upstream NequIP 0.19.1's own test configs train with our packages, unchanged apart from data paths.

The configs ship inside upstream's wheel (``nequip/utils/unittests/*.yaml``); the test installs
that wheel without dependencies into a temporary folder (skipped only when the package registry
cannot be reached), copies the YAML files as they are, and runs each for one short epoch through
``nequip.train.cli.run_config``. Command-line overrides only shrink the data and the model (as a
user would for a smoke test); the aspirin config reads small sGDML-format files written here,
since its data set is a download.
"""

import shutil
import subprocess

import numpy as np
import pytest
import torch

from nequip.model import ModelFromCheckpoint
from nequip.train.cli import run_config

UPSTREAM = "nequip==0.19.1"
UV = shutil.which("uv")
COMMON = ["trainer.max_epochs=1", "+trainer.enable_progress_bar=false", "+trainer.accelerator=cpu"]
pytestmark = pytest.mark.skipif(UV is None, reason="uv is not on PATH (run the tests with `uv run pytest`)")


@pytest.fixture(scope="module")
def upstream_configs(tmp_path_factory):
    target = tmp_path_factory.mktemp("upstream_wheel")
    installed = subprocess.run(
        [UV, "pip", "install", "--quiet", "--no-deps", "--target", str(target), UPSTREAM],
        capture_output=True,
        text=True,
    )
    if installed.returncode != 0:
        pytest.skip(f"package registry unreachable, cannot fetch {UPSTREAM}: {installed.stderr.strip()[-300:]}")
    configs = tmp_path_factory.mktemp("upstream_configs")
    for path in sorted((target / "nequip" / "utils" / "unittests").glob("*.yaml")):
        shutil.copyfile(path, configs / path.name)
    return configs


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setenv("TEST_VAL_TWO", "2")  # upstream's test runner sets it for the `int_div` resolver check
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_upstream_ships_the_configs_we_run(upstream_configs):
    assert {p.stem for p in upstream_configs.glob("*.yaml")} == {"minimal_toy_emt", "minimal_aspirin"}


def _aspirin_frames(num_frames: int, seed: int) -> dict:
    """Frames of a 21-atom C9H8O4 cluster in sGDML's npz layout (R, z, E, F), labelled by ASE's EMT."""
    from ase import Atoms
    from ase.calculators.emt import EMT

    rng = np.random.default_rng(seed)
    numbers = np.array([6] * 9 + [8] * 4 + [1] * 8)
    lattice = np.stack(np.meshgrid(*[np.arange(3)] * 3, indexing="ij"), -1).reshape(-1, 3)[: len(numbers)] * 1.4
    positions, energies, forces = [], [], []
    for _ in range(num_frames):
        atoms = Atoms(numbers=numbers, positions=lattice + rng.normal(scale=0.05, size=lattice.shape))
        atoms.calc = EMT()
        positions.append(atoms.positions)
        energies.append([atoms.get_potential_energy()])
        forces.append(atoms.get_forces())
    return {"R": np.array(positions), "z": numbers, "E": np.array(energies), "F": np.array(forces)}


def _trains(upstream_configs, name, overrides, tmp_path):
    result = run_config(upstream_configs, name, COMMON + overrides, tmp_path)
    assert "test" in result["results"] and np.isfinite(result["results"]["test"][0]["test0_epoch/weighted_sum"])
    model = ModelFromCheckpoint(str(tmp_path / "best.ckpt"))
    assert model.type_names == list(result["module"].model.type_names)
    return result


def test_minimal_toy_emt(upstream_configs, tmp_path):
    overrides = [
        "data.split_dataset.dataset.supercell=[2,2,2]",
        "data.split_dataset.dataset.num_frames=8",
        "data.split_dataset.train=4",
        "data.split_dataset.val=2",
        "data.split_dataset.test=2",
        "training_module.model.num_layers=1",
    ]
    result = _trains(upstream_configs, "minimal_toy_emt", overrides, tmp_path)
    assert result["module"].model.model_config["radial_mlp_width"] == 8  # ${int_div:16,${oc.env:TEST_VAL_TWO}}


def test_minimal_aspirin(upstream_configs, tmp_path):
    data_dir = tmp_path / "aspirin_data"
    data_dir.mkdir()
    for split, (count, seed) in {"train": (12, 0), "test": (4, 1)}.items():
        np.savez(data_dir / f"aspirin_ccsd-{split}.npz", **_aspirin_frames(count, seed))
    overrides = [
        f"data.data_source_dir={data_dir}",
        "data.trainval_test_subset=[12,4]",
        "data.train_val_split=[8,4]",
        "training_module.model.num_layers=1",
    ]
    _trains(upstream_configs, "minimal_aspirin", overrides, tmp_path / "run")
