"""Datamodules: datasets and splits from unbuilt configs, dataloaders, statistics, errors."""

import ast
import doctest
import functools
from pathlib import Path

import ase.io
import pytest
import torch

from nequip.data import AtomicDataDict, keys, to_ase
from nequip.data.dataset import EMTTestDataset, random_split_indices

pytest.importorskip("lightning", reason="the datamodules need nequip-data[lightning]")
from nequip.data.datamodule import ASEDataModule, NequIPDataModule, base  # noqa: E402
from nequip.data.instantiation import instantiate  # noqa: E402

TYPE_NAMES = ["Cu", "Au"]
EMT_CONFIG = {
    "_target_": "nequip.data.dataset.EMTTestDataset",
    "supercell": [1, 1, 2],
    "element": TYPE_NAMES,
    "num_frames": 10,
    "seed": 3,
    "transforms": [
        {"_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper", "chemical_symbols": TYPE_NAMES},
        {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": 3.0},
    ],
}


def _frame_indices(loader):
    return [batch[keys.FRAME_INDEX_KEY].tolist() for batch in loader]


@pytest.fixture(scope="module")
def cuau_xyz(tmp_path_factory):
    frames = EMTTestDataset(supercell=(1, 1, 2), element=TYPE_NAMES, num_frames=10, seed=8)
    path = tmp_path_factory.mktemp("data") / "cuau.xyz"
    ase.io.write(path, [to_ase(frame)[0] for frame in frames], format="extxyz")
    return path


def test_split_dataset_setup_and_dataloaders():
    datamodule = NequIPDataModule(
        seed=5,
        split_dataset={"dataset": EMT_CONFIG, "train": 0.6, "val": 0.2, "test": 0.2},
        train_dataloader={"batch_size": 4, "shuffle": True},
        val_dataloader={"_target_": "torch.utils.data.DataLoader", "batch_size": 10},
        test_dataloader={"batch_size": 1},
    )
    assert datamodule.num_datasets == {"train": 1, "val": 1, "test": 1, "predict": 0}
    datamodule.setup("fit")
    (train,), (val,) = datamodule.train_dataset, datamodule.val_dataset
    assert train.dataset is val.dataset  # the split dataset is built once
    batches = list(datamodule.train_dataloader())
    assert [AtomicDataDict.num_frames(b) for b in batches] == [4, 2]
    expected = random_split_indices(10, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=5)
    assert sorted(i for b in batches for i in b[keys.FRAME_INDEX_KEY].tolist()) == sorted(expected["train"])
    # batches are AtomicDataDict.batched_from_list of the transformed frames
    first = batches[0]
    assert torch.equal(
        first[keys.POSITIONS_KEY],
        torch.cat([train.dataset[i][keys.POSITIONS_KEY] for i in first[keys.FRAME_INDEX_KEY].tolist()]),
    )
    assert keys.ATOM_TYPE_KEY in first and keys.EDGE_INDEX_KEY in first
    assert first[keys.BATCH_KEY].max().item() == 3
    (val_loader,) = datamodule.val_dataloader()
    assert _frame_indices(val_loader) == [expected["val"]]
    datamodule.teardown("fit")
    assert not hasattr(datamodule, "train_dataset")
    datamodule.setup("test")
    (test_loader,) = datamodule.test_dataloader()
    assert _frame_indices(test_loader) == [[i] for i in expected["test"]]


def test_split_reproducible_from_seed():
    def val_frames(seed):
        dm = NequIPDataModule(seed=seed, split_dataset={"dataset": EMT_CONFIG, "train": 6, "val": 4})
        dm.setup("validate")
        return _frame_indices(dm.val_dataloader()[0])

    assert val_frames(1) == val_frames(1)
    assert val_frames(1) != val_frames(2)


def test_several_datasets_configs_and_objects():
    built = EMTTestDataset(supercell=(1, 1, 1), num_frames=3, seed=1)
    small = {**EMT_CONFIG, "num_frames": 2, "transforms": []}
    datamodule = NequIPDataModule(
        seed=0,
        train_dataset=small,
        val_dataset=[small, built],
        split_dataset=[{"dataset": small, "val": 1, "test": 1}],
        val_dataloader={"batch_size": 2},
    )
    assert datamodule.num_datasets == {"train": 1, "val": 3, "test": 1, "predict": 0}
    datamodule.setup("fit")
    loaders = datamodule.val_dataloader()
    assert [sum(AtomicDataDict.num_frames(b) for b in loader) for loader in loaders] == [2, 3, 1]
    assert datamodule.val_dataset[1] is built


def test_shuffle_order_restored_from_state_dict():
    config = dict(
        seed=9,
        train_dataset={**EMT_CONFIG, "transforms": []},
        val_dataset={**EMT_CONFIG, "num_frames": 2},
        train_dataloader={"batch_size": 3, "shuffle": True},
    )
    first = NequIPDataModule(**config)
    first.setup("fit")
    epoch1 = _frame_indices(first.train_dataloader())
    state = first.state_dict()
    epoch2 = _frame_indices(first.train_dataloader())
    assert epoch1 != epoch2
    resumed = NequIPDataModule(**config)
    resumed.load_state_dict(state)
    resumed.setup("fit")
    assert _frame_indices(resumed.train_dataloader()) == epoch2
    fresh = NequIPDataModule(**config)
    fresh.setup("fit")
    assert _frame_indices(fresh.train_dataloader()) == epoch1


def test_ase_datamodule_tutorial_config_and_statistics(cuau_xyz):
    # upstream's tutorial config, with a small file
    datamodule = ASEDataModule(
        seed=456,
        split_dataset={"file_path": str(cuau_xyz), "train": 0.8, "val": 0.1, "test": 0.1},
        transforms=[
            {"_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper", "chemical_symbols": TYPE_NAMES},
            {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": 3.0},
        ],
        train_dataloader={
            "_target_": "torch.utils.data.DataLoader",
            "batch_size": 5,
            "num_workers": 1,
            "shuffle": True,
        },
        val_dataloader={"_target_": "torch.utils.data.DataLoader", "batch_size": 10},
        test_dataloader={"_target_": "torch.utils.data.DataLoader", "batch_size": 10},
        stats_manager={
            "_target_": "nequip.data.CommonDataStatisticsManager",
            "dataloader_kwargs": {"batch_size": 10},
            "type_names": TYPE_NAMES,
        },
    )
    stats = datamodule.get_statistics(dataset="train")
    assert not hasattr(datamodule, "train_dataset")  # torn down again
    train_idx = random_split_indices(10, {"train": 0.8, "val": 0.1, "test": 0.1}, seed=456)["train"]
    frames = EMTTestDataset(supercell=(1, 1, 2), element=TYPE_NAMES, num_frames=10, seed=8)
    per_atom = [frames[i][keys.TOTAL_ENERGY_KEY].item() / AtomicDataDict.num_nodes(frames[i]) for i in train_idx]
    assert stats["per_atom_energy_mean"] == pytest.approx(sum(per_atom) / len(per_atom), rel=1e-6)
    assert stats["num_neighbors_mean"] > 0
    datamodule.setup("fit")
    assert sum(AtomicDataDict.num_frames(b) for b in datamodule.train_dataloader()) == 8


def test_get_statistics_uses_manager_dataloader_kwargs():
    class RecordingManager:
        dataloader_kwargs = {"batch_size": 7}

        def get_statistics(self, data_source):
            return {"batch_frames": [AtomicDataDict.num_frames(b) for b in data_source]}

    datamodule = NequIPDataModule(
        seed=0,
        train_dataset=EMT_CONFIG,
        val_dataset=EMT_CONFIG,
        train_dataloader={"batch_size": 2},
        stats_manager=RecordingManager(),
    )
    assert datamodule.get_statistics() == {"batch_frames": [7, 3]}
    assert NequIPDataModule(seed=0, train_dataset=EMT_CONFIG).get_statistics() == {}
    with pytest.raises(ValueError, match="dataset_idx 1 is out of range: there are 1 val datasets"):
        datamodule.get_statistics("val", dataset_idx=1)


def test_errors(cuau_xyz):
    with pytest.raises(ValueError, match="train_dataloader must not set 'dataset'"):
        NequIPDataModule(seed=0, train_dataloader={"dataset": "x"})
    with pytest.raises(
        ValueError, match=r"val_dataloader has unknown arguments \['batchsize'\].*allowed: \['batch_size'"
    ):
        NequIPDataModule(seed=0, val_dataloader={"batchsize": 2})
    with pytest.raises(ValueError, match=r"split fractions .* sum to 1.1"):
        NequIPDataModule(seed=0, split_dataset={"dataset": EMT_CONFIG, "train": 0.8, "val": 0.3})
    with pytest.raises(ValueError, match=r"split_dataset\[0\] has subsets \['training', 'val'\]; allowed"):
        NequIPDataModule(seed=0, split_dataset={"dataset": EMT_CONFIG, "training": 0.8, "val": 0.2})
    with pytest.raises(ValueError, match=r"train_dataset\[0\] must be a dataset config"):
        NequIPDataModule(seed=0, train_dataset=3)
    with pytest.raises(ValueError, match="seed must be an integer"):
        NequIPDataModule(seed="0")

    counts = NequIPDataModule(seed=0, split_dataset={"dataset": EMT_CONFIG, "train": 8, "val": 3})
    with pytest.raises(ValueError, match=r"split_dataset\[0\]: split counts .* sum to 11, but the dataset has 10"):
        counts.setup("fit")
    no_val = NequIPDataModule(seed=0, train_dataset=EMT_CONFIG)
    with pytest.raises(RuntimeError, match="stage 'fit' needs a val dataset"):
        no_val.setup("fit")
    unknown_arg = NequIPDataModule(seed=0, train_dataset={**EMT_CONFIG, "num_frame": 3}, val_dataset=EMT_CONFIG)
    with pytest.raises(ValueError, match=r"cannot build 'nequip.data.dataset.EMTTestDataset'.*'num_frame'"):
        unknown_arg.setup("fit")
    bad_target = NequIPDataModule(seed=0, train_dataset={"_target_": "nequip.data.dataset.NoSuchDataset"})
    with pytest.raises(ValueError, match="'nequip.data.dataset' has no attribute 'NoSuchDataset'"):
        bad_target.setup("fit")

    with pytest.raises(FileNotFoundError, match=r"train_file_path\[0\] 'missing.xyz' does not exist"):
        ASEDataModule(seed=0, train_file_path="missing.xyz")
    with pytest.raises(FileNotFoundError, match=r"split_dataset\[0\].file_path 'missing.xyz' does not exist"):
        ASEDataModule(seed=0, split_dataset={"file_path": "missing.xyz", "train": 0.5, "val": 0.5})
    with pytest.raises(ValueError, match=r"split_dataset\[0\] must be a dict with 'file_path'"):
        ASEDataModule(seed=0, split_dataset={"train": 0.5, "val": 0.5})


def test_omegaconf_configs(cuau_xyz):
    omegaconf = pytest.importorskip("omegaconf", reason="hydra/omegaconf is installed with nequip-train")
    config = omegaconf.OmegaConf.create(
        {
            "data": {
                "seed": 1,
                "split_dataset": {"file_path": str(cuau_xyz), "train": 0.5, "val": 0.5},
                "val_dataloader": {"batch_size": 5},
                "test_dataloader": "${data.val_dataloader}",
            }
        }
    )
    datamodule = ASEDataModule(**{key: config.data[key] for key in config.data})
    assert datamodule.test_dataloader_config["batch_size"] == 5
    datamodule.setup("validate")
    assert _frame_indices(datamodule.val_dataloader()[0]).__len__() == 1


def test_instantiate_follows_hydra_conventions():
    assert instantiate({"_target_": "builtins.dict", "a": {"_target_": "builtins.list", "_args_": [[1, 2]]}}) == {
        "a": [1, 2]
    }
    partial = instantiate({"_target_": "builtins.sorted", "_partial_": True, "reverse": True})
    assert isinstance(partial, functools.partial) and partial([1, 3, 2]) == [3, 2, 1]
    kept = instantiate({"_target_": "builtins.dict", "_recursive_": False, "inner": {"_target_": "builtins.list"}})
    assert kept == {"inner": {"_target_": "builtins.list"}}
    built = EMTTestDataset(supercell=(1, 1, 1), num_frames=1)
    assert instantiate([{"x": built}]) == [{"x": built}]
    with pytest.raises(ValueError, match="no module 'no_such_module' can be imported"):
        instantiate({"_target_": "no_such_module.Thing"})


def test_dataset_modules_do_not_import_lightning():
    """``import nequip.data`` and ``nequip.data.dataset`` must work without Lightning."""
    root = Path(base.__file__).resolve().parents[1]
    for path in root.rglob("*.py"):
        if "datamodule" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] in ("lightning", "pytorch_lightning") for n in names), path


def test_docstring_example():
    result = doctest.testmod(base, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_lightning_resume_keeps_shuffle_order(tmp_path):
    """Resuming from a checkpoint continues the training shuffle where it stopped."""
    import lightning

    class Recorder(lightning.LightningModule):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
            self.seen = []

        def training_step(self, batch, batch_idx):
            self.seen.append(batch[keys.FRAME_INDEX_KEY].tolist())
            return ((batch[keys.TOTAL_ENERGY_KEY] - self.weight) ** 2).mean()

        def validation_step(self, batch, batch_idx):
            pass

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    def run(max_epochs, root, ckpt_path=None):
        datamodule = NequIPDataModule(
            seed=1,
            split_dataset={"dataset": {**EMT_CONFIG, "transforms": []}, "train": 0.8, "val": 0.2},
            train_dataloader={"batch_size": 4, "shuffle": True},
        )
        trainer = lightning.Trainer(
            max_epochs=max_epochs,
            default_root_dir=root,
            logger=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            accelerator="cpu",
        )
        module = Recorder()
        trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
        return module.seen, trainer

    uninterrupted, _ = run(2, tmp_path / "a")
    first, trainer = run(1, tmp_path / "b")
    resumed, _ = run(2, tmp_path / "b", ckpt_path=trainer.checkpoint_callback.best_model_path)
    assert first + resumed == uninterrupted
    assert uninterrupted[:2] != uninterrupted[2:]  # the two epochs are shuffled differently
