"""Tiny models and data for fast training tests."""

import lightning
import pytest
import torch

TYPE_NAMES = ["Cu", "Au"]
R_MAX = 3.5


def _tiny_model(**overrides):
    config = {
        "_target_": "nequip.model.NequIPGNNModel",
        "seed": 1,
        "model_dtype": "float64",
        "type_names": TYPE_NAMES,
        "r_max": R_MAX,
        "num_layers": 1,
        "l_max": 1,
        "num_features": 4,
        "radial_mlp_depth": 1,
        "radial_mlp_width": 8,
        "avg_num_neighbors": 10.0,
        "per_type_energy_scales": 1.0,
        "per_type_energy_shifts": {"Cu": -0.2, "Au": 1.5},
    }
    config.update(overrides)
    return config


def _datamodule(num_frames=6, batch_size=2, val=1):
    from nequip.data.datamodule import NequIPDataModule

    transforms = [
        {"_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper", "chemical_symbols": TYPE_NAMES},
        {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": R_MAX},
    ]
    dataset = {
        "_target_": "nequip.data.dataset.EMTTestDataset",
        "supercell": [1, 1, 2],
        "element": TYPE_NAMES,
        "num_frames": num_frames,
        "seed": 3,
        "transforms": transforms,
    }
    return NequIPDataModule(
        seed=7,
        split_dataset={"dataset": dataset, "train": num_frames - 1 - val, "val": val, "test": 1},
        train_dataloader={"_target_": "torch.utils.data.DataLoader", "batch_size": batch_size, "shuffle": True},
        val_dataloader={"_target_": "torch.utils.data.DataLoader", "batch_size": 2},
        test_dataloader={"_target_": "torch.utils.data.DataLoader", "batch_size": 2},
    )


def _cpu_trainer(**overrides):
    """A quiet one-epoch CPU trainer (no logger, checkpoints or progress bar unless overridden)."""
    options = dict(
        accelerator="cpu",
        max_epochs=1,
        inference_mode=False,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=False,
    )
    options.update(overrides)
    return lightning.Trainer(**options)


@pytest.fixture
def cpu_trainer():
    return _cpu_trainer


@pytest.fixture
def tiny_model_config():
    return _tiny_model


@pytest.fixture
def tiny_datamodule():
    return _datamodule


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
