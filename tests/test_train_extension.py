"""The extension story: examples/nequip-extension-demo (nequip-nn + nequip-data only) defines a
model builder that passes the shared test-kit and trains through nequip-train by its _target_."""

from pathlib import Path

import pytest
import tomllib
import torch

ROOT = Path(__file__).resolve().parents[1]
EXT = ROOT / "examples" / "nequip-extension-demo"


@pytest.fixture(autouse=True)
def _ext_on_path(monkeypatch):
    monkeypatch.syspath_prepend(str(EXT / "src"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_extension_depends_only_on_nn_and_data():
    project = tomllib.loads((EXT / "pyproject.toml").read_text())["project"]
    assert sorted(project["dependencies"]) == ["nequip-data", "nequip-nn"]
    source = (EXT / "src" / "nequip_ext_demo" / "__init__.py").read_text()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert not [line for line in imports if "nequip.model" in line or "nequip.train" in line], imports


def test_extension_model_passes_testkit():
    from nequip.nn.testkit import check_all
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
    check_all(model, ["H", "O"], 3.0, shifts)


def test_extension_trains_through_nequip_train(tmp_path):
    from nequip.model import ModelFromCheckpoint
    from nequip.train.cli import run_config

    overrides = [
        "trainer.max_epochs=1",
        "+trainer.enable_progress_bar=false",
        "data.split_dataset.dataset.num_frames=6",
        "data.split_dataset.dataset.supercell=[1,1,2]",
        "data.split_dataset.train=4",
        "data.split_dataset.val=1",
        "data.split_dataset.test=1",
    ]
    model = {
        "_target_": "nequip_ext_demo.ScalarGNNModel",
        "seed": 1,
        "model_dtype": "float32",
        "type_names": "${model_type_names}",
        "r_max": "${cutoff_radius}",
        "num_features": 4,
        "avg_num_neighbors": "${training_data_stats:num_neighbors_mean}",
        "per_type_energy_scales": "${training_data_stats:forces_rms}",
        "per_type_energy_shifts": "${training_data_stats:per_type_atom_energy_lstsq}",
    }
    # the tutorial with its model section replaced by the extension's builder
    result = run_config(
        ROOT / "configs",
        "tutorial",
        overrides + ["~training_module.model"],
        tmp_path,
        merge={"training_module": {"model": model}},
    )
    assert type(result["module"].model).__name__ == "GraphModel"
    loaded = ModelFromCheckpoint(str(tmp_path / "best.ckpt"))
    assert loaded.model_config["_target_"] == "nequip_ext_demo.ScalarGNNModel"
    assert "test0_epoch/forces_mae" in result["results"]["test"][0]
