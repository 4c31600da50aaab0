"""Every config in configs/ and every YAML snippet of docs/model-hyperparameters.md trains for one short epoch.

That page holds, among its own snippets, the configurations of our users' model-hyperparameters
document (``USERS_SNIPPETS`` below), so every one of them keeps working as written."""

from pathlib import Path

import pytest
import torch
import yaml

from nequip.model import ModelFromCheckpoint
from nequip.train.cli import run_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
HYPERPARAMETERS_PAGE = ROOT / "docs" / "model-hyperparameters.md"
COMMON = ["trainer.max_epochs=1", "+trainer.enable_progress_bar=false", "trainer.accelerator=cpu"]
TINY_MODEL = ["training_module.model.num_layers=1", "training_module.model.num_features=4"]
ASE_FILE = ["data.split_dataset.train=4", "data.split_dataset.val=1", "data.split_dataset.test=1"]
# overrides that make each config small; a new config must be added here
SHORT = {
    "tutorial": [
        "num_layers=1",
        "num_features=4",
        "data.split_dataset.dataset.num_frames=6",
        "data.split_dataset.dataset.supercell=[1,1,2]",
        "data.split_dataset.train=4",
        "data.split_dataset.val=1",
        "data.split_dataset.test=1",
    ],
    "molecules": TINY_MODEL + ASE_FILE + ["data.ase_args.index=':6'"],
    "energy_only": TINY_MODEL + ASE_FILE + ["data.ase_args.index=':6'"],
    "zbl": TINY_MODEL
    + [
        "data.split_dataset.train=3",
        "data.split_dataset.val=1",
        "data.split_dataset.test=1",
        "data.ase_args.index=':5'",
    ],
}
# data_demo: data-only demo, run by tests/test_demo_data.py; fine_tune: needs a pretrained model,
# trained from tutorial and fine-tuned by tests/test_fine_tune.py
NOT_TRAINING = {"data_demo", "fine_tune"}


@pytest.fixture(autouse=True)
def _setup(monkeypatch):
    monkeypatch.chdir(ROOT)  # data paths in configs are relative to the repository root
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_every_config_has_short_overrides():
    names = {p.stem for p in CONFIGS.glob("*.yaml")} - NOT_TRAINING
    assert names == set(SHORT), "add short-run overrides for new configs to SHORT"


@pytest.mark.parametrize("name", sorted(SHORT))
def test_config_trains_one_short_epoch(name, tmp_path):
    result = run_config(CONFIGS, name, COMMON + SHORT[name], tmp_path)
    assert "test" in result["results"] and result["results"]["test"][0]["test0_epoch/weighted_sum"] >= 0
    model = ModelFromCheckpoint(str(tmp_path / "best.ckpt"))
    assert model.type_names == list(result["module"].model.type_names)


def _page_snippets():
    """The ``yaml`` code blocks of the page, parsed."""
    blocks, current, kind = [], None, None
    for line in HYPERPARAMETERS_PAGE.read_text().splitlines():
        if line.startswith("```"):
            if current is None:
                current, kind = [], line[3:].strip()
            else:
                if kind == "yaml":
                    blocks.append(yaml.safe_load("\n".join(current)))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def _as_merge(snippet):
    if "training_module" in snippet:
        return snippet
    if "model" in snippet:
        return {"training_module": {"model": snippet["model"]}}
    return {"training_module": {"model": snippet}}


def _base_for(merge):
    model = merge["training_module"].get("model", {})
    if model.get("_target_") == "nequip.model.NequIPGNNEnergyModel":
        return "energy_only"
    if isinstance(model.get("per_type_energy_shifts"), dict) and "C" in model["per_type_energy_shifts"]:
        return "molecules"
    return "tutorial"


SNIPPETS = _page_snippets()
STATS = "${training_data_stats:"
ZBL = {"_target_": "nequip.nn.pair_potential.ZBL", "units": "metal", "chemical_species": "${chemical_symbols}"}
USERS_SNIPPETS = [
    {"model": {"_target_": "nequip.model.NequIPGNNModel", "hyperparam1": 7.7, "hyperparam2": 123}},
    {"model": {"_target_": "nequip.model.NequIPGNNEnergyModel"}},
    {
        "model": {
            "_target_": "nequip.model.NequIPGNNModel",
            "avg_num_neighbors": STATS + "num_neighbors_mean}",
            "per_type_energy_shifts": STATS + "per_atom_energy_mean}",
            "per_type_energy_scales": STATS + "per_type_forces_rms}",
        }
    },
    {
        "model": {
            "_target_": "nequip.model.NequIPGNNModel",
            "per_type_energy_shifts": {"C": 1.234, "H": 2.345, "O": 3.456},
        }
    },
    {"per_type_energy_shifts": STATS + "per_atom_energy_mean}"},
    {
        "training_module": {
            "_target_": "nequip.train.EMALightningModule",
            "model": {"_target_": "nequip.model.NequIPGNNModel", "pair_potential": ZBL},
        }
    },
]


@pytest.mark.parametrize("index", range(len(USERS_SNIPPETS)))
def test_users_snippet_is_on_the_page(index):
    assert USERS_SNIPPETS[index] in SNIPPETS, (
        f"{HYPERPARAMETERS_PAGE.name} lost the configuration {USERS_SNIPPETS[index]}"
    )


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_page_snippet_trains(index, tmp_path):
    merge = _as_merge(SNIPPETS[index])
    base = _base_for(merge)
    model = merge["training_module"].get("model", {})
    if "hyperparam1" in model:
        # the document's illustration of the syntax: placeholder names are rejected by name
        with pytest.raises(Exception, match="hyperparam1"):
            run_config(CONFIGS, base, COMMON + SHORT[base], tmp_path, merge=merge)
        return
    result = run_config(CONFIGS, base, COMMON + SHORT[base], tmp_path, merge=merge)
    assert (tmp_path / "last.ckpt").is_file()
    built = result["module"].model.model_config
    for key, value in model.items():
        if isinstance(value, str) and value.startswith("${training_data_stats:"):
            assert built[key] == result["module"].training_data_stats[value[len("${training_data_stats:") : -1]]
        elif key == "pair_potential":
            assert built[key]["units"] == value["units"]
        else:
            assert built[key] == value, key
