"""``NequIPDataModule``: the Lightning datamodule that builds datasets, splits and dataloaders."""

import inspect
import logging
from dataclasses import dataclass
from numbers import Integral
from typing import Any, Dict, List, Optional, Union

import lightning
import torch

from .. import AtomicDataDict
from ..dataset.split import random_split, split_lengths
from ..instantiation import instantiate, locate, to_plain

logger = logging.getLogger(__name__)

SUBSETS = ("train", "val", "test", "predict")
# the subsets a Lightning stage needs, and the stage that builds a subset
_STAGE_SUBSETS = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",), "predict": ("predict",)}
_SUBSET_STAGE = {"train": "fit", "val": "validate", "test": "test", "predict": "predict"}
# DataLoader arguments the datamodule sets itself
_RESERVED_DATALOADER_ARGS = ("dataset", "generator")


@dataclass(frozen=True)
class GivenDataset:
    """A dataset given directly: a config (dict with ``_target_``) or a built dataset."""

    dataset: Any


@dataclass(frozen=True)
class SplitSubset:
    """Subset ``subset`` (``train``, ``val``, ...) of the random split ``split_index`` of ``split_dataset``."""

    split_index: int
    subset: str


@dataclass(frozen=True)
class RandomSplit:
    """One ``split_dataset`` entry: the dataset to split and the size of each subset."""

    dataset: Any
    sizes: Dict[str, Union[int, float]]


def _as_list(value: Any, argument: str) -> List[Any]:
    value = to_plain(value)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    for idx, item in enumerate(items):
        is_config = isinstance(item, dict)
        is_dataset = hasattr(item, "__getitem__") and hasattr(item, "__len__") and not isinstance(item, (str, dict))
        if not (is_config or is_dataset):
            raise ValueError(
                f"{argument}[{idx}] must be a dataset config (a dict with _target_) or a dataset, "
                f"got {type(item).__name__} {item!r}"
            )
    return items


def _dataloader_state_key(subset: str, index: int) -> str:
    return f"_{subset}_dataloader_{index}"


def _dataloader_config(config: Any, argument: str) -> Dict[str, Any]:
    config = to_plain(config) if config is not None else {}
    if not isinstance(config, dict):
        raise ValueError(f"{argument} must be a dict of DataLoader arguments, got {type(config).__name__} {config!r}")
    for name in _RESERVED_DATALOADER_ARGS:
        if name in config:
            raise ValueError(f"{argument} must not set {name!r} (given {config[name]!r}): the datamodule sets it")
    config.setdefault("_target_", "torch.utils.data.DataLoader")
    target = locate(config["_target_"]) if isinstance(config["_target_"], str) else config["_target_"]
    parameters = inspect.signature(target).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        allowed = [name for name in parameters if name not in _RESERVED_DATALOADER_ARGS + ("self",)]
        unknown = sorted(name for name in config if not name.startswith("_") and name not in parameters)
        if unknown:
            raise ValueError(f"{argument} has unknown arguments {unknown} for {config['_target_']}; allowed: {allowed}")
    return config


class NequIPDataModule(lightning.LightningDataModule):
    """Builds the train/val/test/predict datasets and their dataloaders from configs.

    Datasets are given as configs (dicts with ``_target_``, e.g. ``nequip.data.dataset.ASEDataset``,
    left unbuilt as upstream NequIP's ``nequip-train`` passes them) or as built datasets, one or
    a list each. ``split_dataset`` entries split one dataset randomly (reproducibly from
    ``seed``) into subsets that are appended to the given ones, e.g.
    ``{dataset: {...}, train: 0.8, val: 0.1, test: 0.1}``; subset sizes are fractions summing
    to 1 or counts summing to the dataset size. The split dataset is built once and shared
    by its subsets. Datasets are built in :meth:`setup`: ``fit`` needs train and val sets,
    ``validate`` val, ``test`` test and ``predict`` predict sets.

    Dataloader configs are ``DataLoader`` arguments, with an optional ``_target_`` (default
    ``torch.utils.data.DataLoader``); frames are batched with
    ``AtomicDataDict.batched_from_list`` unless ``collate_fn`` is given. Shuffling uses a
    generator seeded by ``seed`` and saved in checkpoints (:meth:`state_dict`).

    Args:
        seed: seed of the splits and of the dataloaders' shuffling.
        train_dataset: training dataset config(s).
        val_dataset: validation dataset config(s).
        test_dataset: test dataset config(s).
        predict_dataset: prediction dataset config(s).
        split_dataset: dict(s) with ``dataset`` (a config) and subset sizes for any of
            ``train``, ``val``, ``test``, ``predict``.
        train_dataloader: ``DataLoader`` arguments for training, e.g. ``{batch_size: 5, shuffle: true}``.
        val_dataloader: ``DataLoader`` arguments for validation.
        test_dataloader: ``DataLoader`` arguments for testing.
        predict_dataloader: ``DataLoader`` arguments for prediction.
        stats_manager: config of a ``DataStatisticsManager``, used by :meth:`get_statistics`.

    Example:
        >>> emt = {"_target_": "nequip.data.dataset.EMTTestDataset", "supercell": [1, 1, 1], "num_frames": 10}
        >>> datamodule = NequIPDataModule(
        ...     seed=1,
        ...     split_dataset={"dataset": emt, "train": 0.8, "val": 0.2},
        ...     train_dataloader={"batch_size": 4, "shuffle": True},
        ... )
        >>> datamodule.setup("fit")
        >>> [int(batch["num_atoms"].numel()) for batch in datamodule.train_dataloader()]
        [4, 4]
    """

    def __init__(
        self,
        seed: int,
        train_dataset: Optional[Union[Dict, List]] = None,
        val_dataset: Optional[Union[Dict, List]] = None,
        test_dataset: Optional[Union[Dict, List]] = None,
        predict_dataset: Optional[Union[Dict, List]] = None,
        split_dataset: Optional[Union[Dict, List]] = None,
        train_dataloader: Optional[Dict] = None,
        val_dataloader: Optional[Dict] = None,
        test_dataloader: Optional[Dict] = None,
        predict_dataloader: Optional[Dict] = None,
        stats_manager: Optional[Dict] = None,
    ):
        super().__init__()
        if isinstance(seed, bool) or not isinstance(seed, Integral):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        self.seed = int(seed)
        given = dict(zip(SUBSETS, (train_dataset, val_dataset, test_dataset, predict_dataset)))
        #: per subset, the datasets in order: given ones first, then subsets of random splits
        self.dataset_entries: Dict[str, List[Union[GivenDataset, SplitSubset]]] = {
            name: [GivenDataset(item) for item in _as_list(value, f"{name}_dataset")] for name, value in given.items()
        }
        self.random_splits: List[RandomSplit] = []
        for idx, split in enumerate(_as_list(split_dataset, "split_dataset")):
            argument = f"split_dataset[{idx}]"
            if not isinstance(split, dict) or "dataset" not in split:
                raise ValueError(f"{argument} must be a dict with a 'dataset' config and subset sizes, got {split!r}")
            sizes = {key: value for key, value in split.items() if key != "dataset"}
            unknown = sorted(set(sizes) - set(SUBSETS))
            if unknown or not sizes:
                raise ValueError(
                    f"{argument} has subsets {sorted(sizes)}; allowed subsets are {list(SUBSETS)} (at least one)"
                )
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in sizes.values()):
                split_lengths(0, sizes)  # checks fractions now; counts are checked against the dataset size
            self.random_splits.append(RandomSplit(dataset=split["dataset"], sizes=sizes))
            for name in sizes:
                self.dataset_entries[name].append(SplitSubset(split_index=idx, subset=name))
        self.num_datasets = {name: len(entries) for name, entries in self.dataset_entries.items()}
        logger.info(
            "%d training, %d validation, %d test and %d predict dataset(s)", *[self.num_datasets[n] for n in SUBSETS]
        )

        loaders = (train_dataloader, val_dataloader, test_dataloader, predict_dataloader)
        #: per subset, the ``DataLoader`` config (with ``_target_``)
        self.dataloader_configs: Dict[str, Dict[str, Any]] = {
            name: _dataloader_config(config, f"{name}_dataloader") for name, config in zip(SUBSETS, loaders)
        }
        self.stats_manager_cfg = to_plain(stats_manager)

        # the training shuffle has its own generator, so that computing statistics or
        # validating does not change the order of training frames
        self.train_generator_state = torch.Generator().manual_seed(seed).get_state()
        self.generator_state = torch.Generator().manual_seed(seed).get_state()
        self.train_generator: Optional[torch.Generator] = None
        self.generator: Optional[torch.Generator] = None
        self._split_cache: Dict[int, Dict[str, torch.utils.data.Dataset]] = {}
        # per subset, built in setup() and dropped in teardown()
        self._built_datasets: Dict[str, List[torch.utils.data.Dataset]] = {}
        self._built_dataloaders: Dict[str, list] = {}
        # dataloader states restored from a checkpoint, per subset and dataset index
        self._dataloader_states: Dict[str, Dict[int, Dict]] = {}

    # === upstream NequIP's attribute names ===

    def datasets(self, subset: str) -> List[torch.utils.data.Dataset]:
        """The built datasets of ``subset`` (``train``, ``val``, ``test``, ``predict``).

        Raises:
            AttributeError: if the stage that builds them was not set up.
        """
        if subset not in self._built_datasets:
            raise AttributeError(
                f"the {subset} datasets are not built: call setup({_SUBSET_STAGE[subset]!r}) first"
                if subset in _SUBSET_STAGE
                else f"no subset {subset!r}; subsets are {list(SUBSETS)}"
            )
        return self._built_datasets[subset]

    train_dataset = property(lambda self: self.datasets("train"), doc="The built training datasets (a list).")
    val_dataset = property(lambda self: self.datasets("val"), doc="The built validation datasets (a list).")
    test_dataset = property(lambda self: self.datasets("test"), doc="The built test datasets (a list).")
    predict_dataset = property(lambda self: self.datasets("predict"), doc="The built prediction datasets (a list).")
    train_dataloader_config = property(lambda self: self.dataloader_configs["train"], doc="Training DataLoader config.")
    val_dataloader_config = property(lambda self: self.dataloader_configs["val"], doc="Validation DataLoader config.")
    test_dataloader_config = property(lambda self: self.dataloader_configs["test"], doc="Test DataLoader config.")
    predict_dataloader_config = property(
        lambda self: self.dataloader_configs["predict"], doc="Prediction DataLoader config."
    )

    # === datasets ===

    def _split_subsets(self, idx: int) -> Dict[str, torch.utils.data.Dataset]:
        if idx not in self._split_cache:
            split = self.random_splits[idx]
            dataset = instantiate(split.dataset)
            try:
                self._split_cache[idx] = random_split(dataset, split.sizes, self.seed)
            except ValueError as err:
                raise ValueError(f"split_dataset[{idx}]: {err}") from err
        return self._split_cache[idx]

    def _build(self, entry: Union[GivenDataset, SplitSubset]) -> torch.utils.data.Dataset:
        if isinstance(entry, SplitSubset):
            return self._split_subsets(entry.split_index)[entry.subset]
        return instantiate(entry.dataset)

    def setup(self, stage: str) -> None:
        """Build the datasets that ``stage`` (``fit``, ``validate``, ``test``, ``predict``) needs."""
        if stage not in _STAGE_SUBSETS:
            raise ValueError(f"stage must be one of {list(_STAGE_SUBSETS)}, got {stage!r}")
        self.generator = torch.Generator().manual_seed(self.seed)
        self.generator.set_state(self.generator_state)
        for name in _STAGE_SUBSETS[stage]:
            if not self.dataset_entries[name]:
                raise RuntimeError(
                    f"stage {stage!r} needs a {name} dataset: give {name}_dataset or a split_dataset with a "
                    f"{name!r} subset"
                )
            self._built_datasets[name] = [self._build(entry) for entry in self.dataset_entries[name]]
        if stage == "fit":
            self.train_generator = torch.Generator().manual_seed(self.seed)
            self.train_generator.set_state(self.train_generator_state)

    def teardown(self, stage: str) -> None:
        """Drop the datasets and dataloaders of ``stage``, keeping the generators' states."""
        if self.generator is not None:
            self.generator_state = self.generator.get_state()
            self.generator = None
        if stage == "fit" and self.train_generator is not None:
            self.train_generator_state = self.train_generator.get_state()
            self.train_generator = None
        for name in _STAGE_SUBSETS.get(stage, ()):
            self._built_datasets.pop(name, None)
            self._built_dataloaders.pop(name, None)

    # === dataloaders ===

    def _make_dataloader(self, dataset, generator: torch.Generator, config: Dict[str, Any]):
        overrides = {"dataset": dataset}
        target = locate(config["_target_"]) if isinstance(config["_target_"], str) else config["_target_"]
        parameters = inspect.signature(target).parameters
        if "generator" in parameters:
            overrides["generator"] = generator
        if "collate_fn" not in config:
            overrides["collate_fn"] = AtomicDataDict.batched_from_list
        return instantiate(config, **overrides)

    def _dataloaders(self, name: str, generator: torch.Generator) -> list:
        if name not in self._built_dataloaders:
            if name not in self._built_datasets:
                raise RuntimeError(f"call setup({_SUBSET_STAGE[name]!r}) before asking for the {name} dataloaders")
            config = self.dataloader_configs[name]
            loaders = [self._make_dataloader(ds, generator, config) for ds in self._built_datasets[name]]
            for idx, loader in enumerate(loaders):
                state = self._dataloader_states.get(name, {}).get(idx)
                # stateful dataloaders (e.g. torchdata's StatefulDataLoader) restore their position
                if state and callable(getattr(loader, "load_state_dict", None)):
                    loader.load_state_dict(state)
            self._built_dataloaders[name] = loaders
        return self._built_dataloaders[name]

    def train_dataloader(self):
        """The training dataloader (Lightning takes a single one)."""
        return self._dataloaders("train", self.train_generator)[0]

    def val_dataloader(self):
        """One dataloader per validation dataset."""
        return self._dataloaders("val", self.generator)

    def test_dataloader(self):
        """One dataloader per test dataset."""
        return self._dataloaders("test", self.generator)

    def predict_dataloader(self):
        """One dataloader per prediction dataset."""
        return self._dataloaders("predict", self.generator)

    # === checkpointing ===

    def state_dict(self) -> Dict[str, Any]:
        """Generator states (and states of stateful dataloaders), saved in Lightning checkpoints."""
        state = {
            "train_generator_state": (
                self.train_generator.get_state() if self.train_generator is not None else self.train_generator_state
            ),
            "generator_state": self.generator.get_state() if self.generator is not None else self.generator_state,
        }
        # keys as upstream NequIP's checkpoints have them: `_<subset>_dataloader_<index>`
        for name in SUBSETS:
            loaders = self._built_dataloaders.get(name, [None] * self.num_datasets[name])
            for idx, loader in enumerate(loaders):
                saver = getattr(loader, "state_dict", None)
                state[_dataloader_state_key(name, idx)] = saver() if callable(saver) else {}
        return state

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved; dataloader states apply when they are built."""
        self.train_generator_state = state_dict["train_generator_state"]
        self.generator_state = state_dict["generator_state"]
        # Lightning restores after setup(): generators built there take the restored state too
        if self.train_generator is not None:
            self.train_generator.set_state(self.train_generator_state)
        if self.generator is not None:
            self.generator.set_state(self.generator_state)
        self._dataloader_states = {
            name: {
                idx: state_dict[_dataloader_state_key(name, idx)]
                for idx in range(self.num_datasets[name])
                if _dataloader_state_key(name, idx) in state_dict
            }
            for name in SUBSETS
        }

    # === statistics ===

    def get_statistics(self, dataset: str = "train", dataset_idx: int = 0) -> Dict[str, Any]:
        """Compute the ``stats_manager``'s statistics on one dataset.

        The dataset's dataloader config is used, updated by the manager's
        ``dataloader_kwargs`` (e.g. a larger batch size). Returns ``{}`` without a
        ``stats_manager``.

        Args:
            dataset: ``train``, ``val``, ``test`` or ``predict``.
            dataset_idx: which dataset of that kind.
        """
        if dataset not in SUBSETS:
            raise ValueError(f"dataset must be one of {list(SUBSETS)}, got {dataset!r}")
        if self.stats_manager_cfg is None:
            return {}
        if not 0 <= dataset_idx < self.num_datasets[dataset]:
            raise ValueError(
                f"dataset_idx {dataset_idx} is out of range: there are {self.num_datasets[dataset]} {dataset} datasets"
            )
        stats_manager = instantiate(self.stats_manager_cfg)
        stage = _SUBSET_STAGE[dataset]
        self.prepare_data()
        self.setup(stage)
        try:
            extra = to_plain(getattr(stats_manager, "dataloader_kwargs", None)) or {}
            config = {**self.dataloader_configs[dataset], **extra}
            config = _dataloader_config(config, "stats_manager.dataloader_kwargs")
            dataset_obj = self._built_datasets[dataset][dataset_idx]
            return stats_manager.get_statistics(self._make_dataloader(dataset_obj, self.generator, config))
        finally:
            self.teardown(stage)
