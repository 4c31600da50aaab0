"""Benchmark datamodules of extxyz files: 3BPA, TM23, SAMD23, liquid water, COLL.

Each downloads its files into ``data_source_dir`` in ``prepare_data`` (or uses them when
they are there; see :mod:`~nequip.data.datamodule.benchmark_files`) and reads them with
:class:`~nequip.data.dataset.ASEDataset` through :class:`ASEDataModule`.
"""

import os
from typing import Callable, List, Optional, Sequence, Union

from .. import keys
from ..instantiation import to_plain
from .ase_datamodule import ASEDataModule
from .benchmark_files import FetchedFilesMixin, RemoteFile, check_choice, split_sizes


class NequIP3BPADataModule(FetchedFilesMixin, ASEDataModule):
    """The 3BPA molecule data set (Kovács et al., J. Chem. Theory Comput. 17, 7696 (2021)).

    The training file (``300K`` or ``mixedT``) is split into train and val; the test sets
    (at 300 K, 600 K, 1200 K and the dihedral scans ``dih_beta120/150/180``) are separate
    test datasets, in the order given. Energies in eV, forces in eV/Å. The isolated atoms'
    energies (eV, from ``iso_atoms.xyz``), for ``per_type_energy_shifts``: C -1029.4889999855063,
    H -13.587222780835477, N -1484.9814568572233, O -2041.9816003861047.

    Args:
        seed: seed of the split and of the shuffling.
        transforms: transforms (or their configs) applied to every frame.
        train_val_split: sizes of the train and val subsets of the training file.
        data_source_dir: the folder holding ``dataset_3BPA/``, or where it is downloaded to.
        train_set: ``300K`` or ``mixedT``.
        test_sets: any of ``300K``, ``600K``, ``1200K``, ``dih_beta120``, ``dih_beta150``,
            ``dih_beta180`` (default: all, in this order); ``[]`` for none.
        **kwargs: dataloader configs, ``stats_manager`` and the ASE arguments of :class:`ASEDataModule`.
    """

    TEST_SETS = ("300K", "600K", "1200K", "dih_beta120", "dih_beta150", "dih_beta180")
    TRAIN_SETS = ("300K", "mixedT")
    URL = "https://github.com/davkovacs/BOTNet-datasets/raw/refs/heads/main/dataset_3BPA.tar.gz"

    def __init__(
        self,
        seed: int,
        transforms: List[Callable],
        train_val_split: Sequence[Union[int, float]],
        data_source_dir: str,
        train_set: str = "300K",
        test_sets: Optional[List[str]] = None,
        **kwargs,
    ):
        check_choice("train_set", train_set, self.TRAIN_SETS)
        test_sets = list(self.TEST_SETS) if test_sets is None else list(to_plain(test_sets))
        for idx, name in enumerate(test_sets):
            check_choice(f"test_sets[{idx}]", name, self.TEST_SETS)
        self.data_source_dir = str(data_source_dir)
        paths = [f"dataset_3BPA/train_{train_set}.xyz"] + [f"dataset_3BPA/test_{name}.xyz" for name in test_sets]
        self.remote_files = tuple(RemoteFile(path=p, url=self.URL, archives=("dataset_3BPA.tar.gz",)) for p in paths)
        self.train_file_path, *self.test_file_paths = [os.path.join(self.data_source_dir, p) for p in paths]
        sizes = split_sizes("train_val_split", to_plain(train_val_split), ("train", "val"))
        super().__init__(
            seed=seed,
            split_dataset={"file_path": self.train_file_path, **sizes},
            test_file_path=self.test_file_paths,
            transforms=transforms,
            **kwargs,
        )


class TM23DataModule(FetchedFilesMixin, ASEDataModule):
    """One element of the TM23 transition-metal data set (Owen et al., npj Comput. Mater. 10, 92 (2024)).

    The element's combined cold/warm/melt training file is split into train and val; its
    test file is the test set. Energies in eV, forces in eV/Å.

    Args:
        seed: seed of the split and of the shuffling.
        data_source_dir: the folder holding ``benchmarking_master_collection/``, or where it
            is downloaded to (from the Materials Cloud archive, record 2024.48).
        element: one of :attr:`ELEMENTS`.
        transforms: transforms (or their configs) applied to every frame.
        train_val_split: sizes of the train and val subsets of the training file.
        **kwargs: dataloader configs, ``stats_manager`` and the ASE arguments of :class:`ASEDataModule`.
    """

    ELEMENTS = (
        *("Ag", "Au", "Cd", "Co", "Cr", "Cu", "Fe", "Hf", "Hg", "Ir", "Mn", "Mo", "Nb", "Ni"),
        *("Os", "Pd", "Pt", "Re", "Rh", "Ru", "Ta", "Tc", "Ti", "V", "W", "Zn", "Zr"),
    )
    URL = (
        "https://archive.materialscloud.org/records/tcrks-ymp88/files/"
        "benchmarking_master_collection-20240316T202423Z-001.zip?download=1"
    )
    ARCHIVE = "benchmarking_master_collection-20240316T202423Z-001.zip"

    def __init__(
        self,
        seed: int,
        data_source_dir: str,
        element: str,
        transforms: List[Callable],
        train_val_split: Sequence[Union[int, float]],
        **kwargs,
    ):
        check_choice("element", element, self.ELEMENTS)
        self.element, self.data_source_dir = element, str(data_source_dir)
        paths = [f"benchmarking_master_collection/{element}_2700cwm_{part}.xyz" for part in ("train", "test")]
        self.remote_files = tuple(RemoteFile(path=p, url=self.URL, archives=(self.ARCHIVE,)) for p in paths)
        self.train_file_path, self.test_file_path = (os.path.join(self.data_source_dir, p) for p in paths)
        sizes = split_sizes("train_val_split", to_plain(train_val_split), ("train", "val"))
        kwargs.setdefault("ase_args", {"format": "extxyz"})
        super().__init__(
            seed=seed,
            test_file_path=self.test_file_path,
            split_dataset={"file_path": self.train_file_path, **sizes},
            transforms=transforms,
            **kwargs,
        )


class SAMD23DataModule(FetchedFilesMixin, ASEDataModule):
    """The SAMD23 data sets of Samsung (HfO and SiN; Kim et al., NeurIPS 2023 Datasets and Benchmarks).

    Uses the published train, validation and test files (``Trainset.xyz``, ``Validset.xyz``,
    ``Testset.xyz``); with ``include_ood`` the out-of-distribution ``OOD.xyz`` is a second
    test set. The archives are on Google Drive: downloading needs ``pip install gdown``
    (or place ``<system>/`` or ``<system>.tar`` in ``data_source_dir`` by hand).

    Args:
        seed: seed of the shuffling.
        transforms: transforms (or their configs) applied to every frame.
        data_source_dir: the folder holding ``HfO/`` or ``SiN/``, or where it is downloaded to.
        system: ``HfO`` or ``SiN``.
        include_ood: add ``OOD.xyz`` as the second test set.
        **kwargs: dataloader configs, ``stats_manager`` and the ASE arguments of :class:`ASEDataModule`.
    """

    URLS = {
        "HfO": "https://drive.google.com/uc?id=1-DVMGyXjvNYaBtaAkWu8uQVgvz8pEgMZ",
        "SiN": "https://drive.google.com/uc?id=1l9nsie40Bpm8CNW4sx94yAuvmMkUfM3b",
    }

    def __init__(
        self,
        seed: int,
        transforms: List[Callable],
        data_source_dir: str,
        system: str = "HfO",
        include_ood: bool = True,
        **kwargs,
    ):
        system = system.strip() if isinstance(system, str) else system
        check_choice("system", system, list(self.URLS))
        self.system, self.include_ood, self.data_source_dir = system, bool(include_ood), str(data_source_dir)
        names = ["Trainset", "Validset", "Testset"] + (["OOD"] if include_ood else [])
        self.remote_files = tuple(
            RemoteFile(
                path=f"{system}/{name}.xyz", url=self.URLS[system], archives=(f"{system}.tar",), google_drive=True
            )
            for name in names
        )
        self.train_file_path, self.val_file_path, *test_paths = (
            os.path.join(self.data_source_dir, f.path) for f in self.remote_files
        )
        super().__init__(
            seed=seed,
            train_file_path=self.train_file_path,
            val_file_path=self.val_file_path,
            test_file_path=test_paths,
            transforms=transforms,
            **kwargs,
        )


class WaterDataModule(FetchedFilesMixin, ASEDataModule):
    """Liquid and solid water (Cheng et al., PNAS 116, 1110 (2019)): 1593 periodic frames.

    Split here into train, val and test. Energies (``TotEnergy``) in eV, forces (``force``)
    in eV/Å. The per-atom energies of a least-squares fit (eV): H -187.6044, O -93.8022.

    Args:
        seed: seed of the split and of the shuffling.
        transforms: transforms (or their configs) applied to every frame.
        data_source_dir: where ``dataset_1593_eVAng.xyz`` is, or is downloaded to.
        train_val_test_split: sizes of the train, val and test subsets.
        **kwargs: dataloader configs, ``stats_manager`` and the ASE arguments of :class:`ASEDataModule`.
    """

    URL = (
        "https://github.com/BingqingCheng/Mapping-the-space-of-materials-and-molecules/raw/refs/heads/master/"
        "mlp-water/dataset_1593_eVAng.xyz"
    )
    FILE = "dataset_1593_eVAng.xyz"

    def __init__(
        self,
        seed: int,
        transforms: List[Callable],
        data_source_dir: str,
        train_val_test_split: Sequence[Union[int, float]],
        **kwargs,
    ):
        self.data_source_dir = str(data_source_dir)
        self.remote_files = (RemoteFile(path=self.FILE, url=self.URL),)
        self.file_path = os.path.join(self.data_source_dir, self.FILE)
        sizes = split_sizes("train_val_test_split", to_plain(train_val_test_split), ("train", "val", "test"))
        kwargs.setdefault("key_mapping", {"TotEnergy": keys.TOTAL_ENERGY_KEY, "force": keys.FORCE_KEY})
        super().__init__(
            seed=seed, split_dataset={"file_path": self.file_path, **sizes}, transforms=transforms, **kwargs
        )


class COLLDataModule(FetchedFilesMixin, ASEDataModule):
    """The COLL data set of molecular collisions (Gasteiger et al., arXiv:2011.14115), all-electron energies.

    Uses the published train, validation and test files. The per-atom energies of a
    least-squares fit (eV): C -1035.412048, H -16.834627, O -2046.033121.

    Args:
        seed: seed of the shuffling.
        transforms: transforms (or their configs) applied to every frame.
        data_source_dir: where the ``coll_v1.2_AE_*.xyz`` files are, or are downloaded to.
        **kwargs: dataloader configs, ``stats_manager`` and the ASE arguments of :class:`ASEDataModule`.
    """

    #: file -> URL
    FILES = {
        "coll_v1.2_AE_train.xyz": "https://figshare.com/ndownloader/files/25605734",
        "coll_v1.2_AE_val.xyz": "https://figshare.com/ndownloader/files/25605737",
        "coll_v1.2_AE_test.xyz": "https://figshare.com/ndownloader/files/25605740",
    }

    def __init__(self, seed: int, transforms: List[Callable], data_source_dir: str, **kwargs):
        self.data_source_dir = str(data_source_dir)
        self.remote_files = tuple(RemoteFile(path=name, url=url) for name, url in self.FILES.items())
        self.train_file_path, self.val_file_path, self.test_file_path = (
            os.path.join(self.data_source_dir, name) for name in self.FILES
        )
        super().__init__(
            seed=seed,
            train_file_path=self.train_file_path,
            val_file_path=self.val_file_path,
            test_file_path=self.test_file_path,
            transforms=transforms,
            **kwargs,
        )
