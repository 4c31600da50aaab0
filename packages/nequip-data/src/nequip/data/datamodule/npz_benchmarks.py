"""Benchmark datamodules of molecular dynamics data in ``.npz`` files: sGDML CCSD(T), rMD17, MD22.

Each downloads its files into ``data_source_dir`` in ``prepare_data`` (or uses them when
they are there; see :mod:`~nequip.data.datamodule.benchmark_files`) and reads them with
:class:`~nequip.data.dataset.NPZDataset`.
"""

import os
from typing import Callable, Dict, List, Optional, Sequence, Union

import ase.units

from .. import AtomicDataDict, keys
from ..instantiation import to_plain
from .base import NequIPDataModule
from .benchmark_files import FetchedFilesMixin, RemoteFile, check_choice, split_sizes

_NPZ_DATASET = "nequip.data.dataset.NPZDataset"
_SUBSET = "nequip.data.dataset.SubsetByRandomSlice"
KCAL_PER_MOL_IN_EV = ase.units.kcal / ase.units.mol  # 0.0433641... eV


def kcal_per_mol_to_ev(data: AtomicDataDict.Type) -> AtomicDataDict.Type:
    """Convert ``total_energy`` (kcal/mol) and ``forces`` (kcal/mol/Å) to eV and eV/Å, in place."""
    data[keys.TOTAL_ENERGY_KEY] = data[keys.TOTAL_ENERGY_KEY] * KCAL_PER_MOL_IN_EV
    data[keys.FORCE_KEY] = data[keys.FORCE_KEY] * KCAL_PER_MOL_IN_EV
    return data


def _npz_config(file_path: str, transforms, key_mapping: Optional[Dict[str, str]] = None) -> dict:
    config = {"_target_": _NPZ_DATASET, "file_path": file_path, "transforms": transforms}
    if key_mapping is not None:
        config["key_mapping"] = key_mapping
    return config


def _random_slice(dataset: dict, start: int, length: int, seed: int) -> dict:
    return {"_target_": _SUBSET, "dataset": dataset, "start": start, "length": length, "seed": seed}


class sGDML_CCSD_DataModule(FetchedFilesMixin, NequIPDataModule):
    """The sGDML CCSD and CCSD(T) molecular data sets (http://www.sgdml.org/#datasets).

    Each molecule comes as a training file (split here into train and val) and a test file.
    Energies are in kcal/mol and forces in kcal/mol/Å, as in the files.

    Args:
        dataset: ``aspirin`` (CCSD), ``benzene``, ``malonaldehyde``, ``toluene`` or ``ethanol`` (CCSD(T)).
        data_source_dir: where the files are, or are downloaded to (``<name>-train.npz``, ``<name>-test.npz``).
        transforms: transforms (or their configs) applied to every frame.
        seed: seed of the splits and of the shuffling.
        train_val_split: sizes of the train and val subsets of the training file, fractions or counts.
        trainval_test_subset: use only ``[N_trainval, N_test]`` frames, drawn at random
            (for quick tests).
        **kwargs: dataloader configs and ``stats_manager`` of :class:`NequIPDataModule`.
    """

    #: molecule -> the file names' stem
    DATASET_MAP = {
        "aspirin": "aspirin_ccsd",
        "benzene": "benzene_ccsd_t",
        "malonaldehyde": "malonaldehyde_ccsd_t",
        "toluene": "toluene_ccsd_t",
        "ethanol": "ethanol_ccsd_t",
    }
    URL = "http://www.quantum-machine.org/gdml/data/npz/{stem}.zip"

    def __init__(
        self,
        dataset: str,
        data_source_dir: str,
        transforms: List[Callable],
        seed: int,
        train_val_split: Sequence[Union[int, float]],
        trainval_test_subset: Optional[List[int]] = None,
        **kwargs,
    ):
        check_choice("dataset", dataset, list(self.DATASET_MAP))
        stem = self.DATASET_MAP[dataset]
        self.dataset, self.data_source_dir = dataset, str(data_source_dir)
        url = self.URL.format(stem=stem)
        self.remote_files = tuple(
            RemoteFile(path=f"{stem}-{part}.npz", url=url, archives=(f"{stem}.zip",)) for part in ("train", "test")
        )
        self.train_file_path, self.test_file_path = (
            os.path.join(self.data_source_dir, f.path) for f in self.remote_files
        )
        transforms = to_plain(transforms) or []
        trainval = _npz_config(self.train_file_path, transforms)
        test = _npz_config(self.test_file_path, transforms)
        if trainval_test_subset is not None:
            subset = list(to_plain(trainval_test_subset))
            if len(subset) != 2:
                raise ValueError(f"trainval_test_subset must be [N_trainval, N_test], got {subset}")
            trainval, test = _random_slice(trainval, 0, subset[0], seed), _random_slice(test, 0, subset[1], seed)
        sizes = split_sizes("train_val_split", to_plain(train_val_split), ("train", "val"))
        super().__init__(seed=seed, test_dataset=[test], split_dataset=[{"dataset": trainval, **sizes}], **kwargs)


class rMD17DataModule(FetchedFilesMixin, NequIPDataModule):
    """The revised MD17 data sets (https://doi.org/10.6084/m9.figshare.12672038.v3).

    100,000 frames per molecule (99,988 for azobenzene), split here into train, val and
    test. Energies and forces are converted from kcal/mol to eV (and eV/Å).

    Args:
        dataset: ``aspirin``, ``azobenzene``, ``benzene``, ``ethanol``, ``malonaldehyde``,
            ``naphthalene``, ``paracetamol``, ``salicylic``, ``toluene`` or ``uracil``.
        data_source_dir: where ``rmd17/npz_data/rmd17_<dataset>.npz`` is, or is downloaded to.
        transforms: transforms (or their configs) applied to every frame.
        seed: seed of the splits and of the shuffling.
        train_val_test_split: sizes of the train, val and test subsets, fractions or counts
            (counts sum to the number of frames, or to ``subset_len``).
        subset_len: use only this many frames, drawn at random (for quick tests).
        **kwargs: dataloader configs and ``stats_manager`` of :class:`NequIPDataModule`.
    """

    #: molecule -> file name
    DATASET_MAP = {
        name: f"rmd17_{name}.npz"
        for name in (
            "aspirin",
            "azobenzene",
            "benzene",
            "ethanol",
            "malonaldehyde",
            "naphthalene",
            "paracetamol",
            "salicylic",
            "toluene",
            "uracil",
        )
    }
    DATASET_URL = "https://figshare.com/ndownloader/articles/12672038/versions/3"
    #: the download (a zip of the figshare article), then the archive inside it
    ARCHIVES = ("rmd17_figshare_12672038.zip", "rmd17.tar.bz2")
    KEY_MAPPING = {
        "coords": keys.POSITIONS_KEY,
        "nuclear_charges": keys.ATOMIC_NUMBERS_KEY,
        "energies": keys.TOTAL_ENERGY_KEY,
        "forces": keys.FORCE_KEY,
    }

    def __init__(
        self,
        dataset: str,
        data_source_dir: str,
        transforms: List[Callable],
        seed: int,
        train_val_test_split: Sequence[Union[int, float]],
        subset_len: Optional[int] = None,
        **kwargs,
    ):
        check_choice("dataset", dataset, list(self.DATASET_MAP))
        self.dataset, self.data_source_dir = dataset, str(data_source_dir)
        remote = RemoteFile(
            path=f"rmd17/npz_data/{self.DATASET_MAP[dataset]}", url=self.DATASET_URL, archives=self.ARCHIVES
        )
        self.remote_files = (remote,)
        self.file_path = os.path.join(self.data_source_dir, remote.path)
        transforms = (to_plain(transforms) or []) + [kcal_per_mol_to_ev]
        config = _npz_config(self.file_path, transforms, dict(self.KEY_MAPPING))
        if subset_len is not None:
            config = _random_slice(config, 0, subset_len, seed)
        sizes = split_sizes("train_val_test_split", to_plain(train_val_test_split), ("train", "val", "test"))
        super().__init__(seed=seed, split_dataset=[{"dataset": config, **sizes}], **kwargs)


class MD22DataModule(FetchedFilesMixin, NequIPDataModule):
    """The MD22 data sets of large molecules (Chmiela et al., Sci. Adv. 9, eadf0873 (2023)).

    The first frames of a random permutation (seeded by ``seed``), as many as the paper's
    training sets, are split into train and val; the rest is the test set. Energies and
    forces are converted from kcal/mol to eV (and eV/Å).

    Args:
        dataset: ``tetrapeptide``, ``dha``, ``stachyose``, ``dna_atat``, ``dna_atat_cgcg``,
            ``buckyball_catcher`` or ``double_walled_nanotube``.
        data_source_dir: where the ``md22_*.npz`` file is, or is downloaded to.
        transforms: transforms (or their configs) applied to every frame.
        seed: seed of the permutation, the split and the shuffling.
        train_val_split: sizes of the train and val subsets of the training frames.
        **kwargs: dataloader configs and ``stats_manager`` of :class:`NequIPDataModule`.
    """

    #: molecule -> (file name, training frames in the paper, frames in the file)
    DATASET_MAP = {
        "tetrapeptide": ("md22_Ac-Ala3-NHMe.npz", 6000, 85109),
        "dha": ("md22_DHA.npz", 8000, 69753),
        "stachyose": ("md22_stachyose.npz", 8000, 27272),
        "dna_atat": ("md22_AT-AT.npz", 3000, 20001),
        "dna_atat_cgcg": ("md22_AT-AT-CG-CG.npz", 2000, 10153),
        "buckyball_catcher": ("md22_buckyball-catcher.npz", 600, 6102),
        "double_walled_nanotube": ("md22_double-walled_nanotube.npz", 800, 5032),
    }
    URL = "http://www.quantum-machine.org/gdml/repo/datasets/{file_name}"

    def __init__(
        self,
        dataset: str,
        data_source_dir: str,
        transforms: List[Callable],
        seed: int,
        train_val_split: Sequence[Union[int, float]],
        **kwargs,
    ):
        check_choice("dataset", dataset, list(self.DATASET_MAP))
        file_name, num_trainval, num_frames = self.DATASET_MAP[dataset]
        self.dataset, self.data_source_dir = dataset, str(data_source_dir)
        self.remote_files = (RemoteFile(path=file_name, url=self.URL.format(file_name=file_name)),)
        self.data_file_path = os.path.join(self.data_source_dir, file_name)
        transforms = (to_plain(transforms) or []) + [kcal_per_mol_to_ev]
        base = _npz_config(self.data_file_path, transforms)
        trainval = _random_slice(base, 0, num_trainval, seed)
        test = _random_slice(base, num_trainval, num_frames - num_trainval, seed)
        sizes = split_sizes("train_val_split", to_plain(train_val_split), ("train", "val"))
        super().__init__(seed=seed, split_dataset={"dataset": trainval, **sizes}, test_dataset=test, **kwargs)
