"""The extension story: examples/nequip-extension-demo, an installed package (an editable dev dependency
of the workspace) that depends on nequip-data, nequip-nn and nequip-models, defines a model builder
with ``model_builder`` that passes the shared test-kit, and trains through the ``nequip-train``
command by its ``_target_``."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
import torch
from omegaconf import OmegaConf

from nequip.model import ModelFromCheckpoint
from nequip.nn.testkit import check_all

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "examples" / "nequip-extension-demo"
TARGET = "nequip_ext_demo.ScalarGNNModel"


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_extension_depends_on_data_nn_and_models_only():
    project = tomllib.loads((EXT / "pyproject.toml").read_text())["project"]
    assert sorted(project["dependencies"]) == ["nequip-data", "nequip-models", "nequip-nn"]
    source = (EXT / "src" / "nequip_ext_demo" / "__init__.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert "from nequip.model import model_builder" in imports, imports
    assert not [line for line in imports if any(name in line for name in ("nequip.train", "lightning", "hydra"))]


def test_extension_is_an_installed_distribution():
    """The demo is installed (the workspace's editable dev dependency), with no path patched by the tests."""
    from importlib.metadata import distribution

    import nequip_ext_demo

    assert distribution("nequip-ext-demo").version == "0.1.0"
    assert Path(nequip_ext_demo.__file__).resolve().is_relative_to(EXT / "src")


def test_extension_model_passes_testkit(one_thread):
    from nequip_ext_demo import ScalarGNNModel

    shifts = {"H": -0.5, "O": 1.0}
    model = ScalarGNNModel(
        seed=0,
        model_dtype="float64",
        type_names=["H", "O"],
        r_max=3.0,
        num_features=4,
        avg_num_neighbors=4.0,
        per_type_energy_scales=1.0,
        per_type_energy_shifts=shifts,
    )
    assert type(model).__name__ == "GraphModel"
    assert model.model_config["_target_"] == TARGET
    check_all(model, ["H", "O"], 3.0, shifts)


def test_extension_model_rejects_bad_num_layers():
    from nequip_ext_demo import ScalarGNNModel

    with pytest.raises(ValueError, match="num_layers must be an integer >= 1, got 0"):
        ScalarGNNModel(seed=0, model_dtype="float32", type_names=["H"], r_max=3.0, num_layers=0)


def _tiny_tutorial_config(path: Path) -> None:
    """configs/tutorial.yaml with its model section replaced by the demo's builder, shrunk to seconds."""
    config = OmegaConf.load(ROOT / "configs" / "tutorial.yaml")
    config.run = ["train", "test"]
    dataset = config.data.split_dataset
    dataset.dataset.num_frames = 6
    dataset.dataset.supercell = [1, 1, 2]
    dataset.train, dataset.val, dataset.test = 4, 1, 1
    config.trainer.max_epochs = 2
    config.trainer.enable_progress_bar = False
    config.trainer.log_every_n_steps = 1
    # checkpoints and the CSV log; no test-time files or plots
    config.trainer.callbacks = [c for c in config.trainer.callbacks if "ModelCheckpoint" in c._target_]
    config.training_module.model = {
        "_target_": TARGET,
        "seed": 1,
        "model_dtype": "float32",
        "type_names": "${model_type_names}",
        "r_max": "${cutoff_radius}",
        "num_features": 4,
        "avg_num_neighbors": "${training_data_stats:num_neighbors_mean}",
        "per_type_energy_scales": "${training_data_stats:forces_rms}",
        "per_type_energy_shifts": "${training_data_stats:per_type_atom_energy_lstsq}",
    }
    OmegaConf.save(config, path)


def test_extension_trains_through_the_nequip_train_command(tmp_path):
    _tiny_tutorial_config(tmp_path / "extension.yaml")
    out = tmp_path / "out"
    nequip_train = Path(sys.executable).with_name("nequip-train")  # the console script of this environment
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [str(nequip_train), "-cp", str(tmp_path), "-cn", "extension", f"hydra.run.dir={out}"],
        cwd=tmp_path,
        env={**env, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    loaded = ModelFromCheckpoint(str(out / "best.ckpt"))
    assert type(loaded).__name__ == "GraphModel"
    assert loaded.model_config["_target_"] == TARGET
    assert loaded.model_config["num_features"] == 4 and loaded.type_names == ["Cu", "Au"]
    (log,) = out.glob("tutorial/*/metrics.csv")
    with open(log) as handle:
        rows = list(csv.DictReader(handle))
    assert sorted({row["epoch"] for row in rows if row.get("train_loss_epoch/weighted_sum")}) == ["0", "1"]
    assert any(row.get("test0_epoch/forces_mae") for row in rows), "the test run logged no forces_mae"
