"""Benchmark datamodules on small files written in each data set's own format, offline.

Each test writes files named and laid out as the data set publishes them into a
temporary ``data_source_dir`` and loads them through the datamodule. Downloads are tested
with ``file://`` URLs of locally built archives (the real URLs need the internet).
"""

import io
import tarfile
import zipfile

import ase
import ase.io
import numpy as np
import pytest
import torch
from ase.calculators.singlepoint import SinglePointCalculator

from nequip.data import AtomicDataDict, keys

pytest.importorskip("lightning", reason="the datamodules need nequip-data[lightning]")
from nequip.data.datamodule import (  # noqa: E402
    COLLDataModule,
    MD22DataModule,
    NequIP3BPADataModule,
    SAMD23DataModule,
    TM23DataModule,
    WaterDataModule,
    rMD17DataModule,
    sGDML_CCSD_DataModule,
)
from nequip.data.datamodule.benchmark_files import MANIFEST, DataFileError, md5sum  # noqa: E402

# upstream NequIP's kcal/mol -> eV factor for rMD17 and MD22 (ours is ASE's, to more digits)
UPSTREAM_KCAL_PER_MOL_IN_EV = 0.0433641
MAPPER = {"_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper", "model_type_names": ["H", "C", "O"]}


def _molecules(num_frames, seed, numbers=(6, 1, 1, 8)):
    rng = np.random.default_rng(seed)
    positions = np.array([[0.0, 0, 0], [1.1, 0, 0], [-0.4, 1.0, 0], [0, -0.3, 1.4]])[: len(numbers)]
    return {
        "pos": positions + rng.normal(scale=0.05, size=(num_frames, len(numbers), 3)),
        "z": np.array(numbers),
        "E": rng.normal(size=(num_frames, 1)) - 100.0,
        "F": rng.normal(size=(num_frames, len(numbers), 3)),
    }


def _write_xyz(path, num_frames, seed, energy_key=None, force_key=None):
    """An extxyz file of labelled frames; ``energy_key``/``force_key`` store the labels under other names."""
    rng = np.random.default_rng(seed)
    frames = []
    for _ in range(num_frames):
        atoms = ase.Atoms("CH2O", positions=rng.uniform(0, 3, size=(4, 3)) + np.arange(4)[:, None] * 1.5)
        energy, forces = float(rng.normal()), rng.normal(size=(4, 3))
        if energy_key is None:
            atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        else:
            atoms.info[energy_key], atoms.arrays[force_key] = energy, forces
        frames.append(atoms)
    path.parent.mkdir(parents=True, exist_ok=True)
    ase.io.write(path, frames, format="extxyz")
    return frames


def _count(loaders):
    return [sum(AtomicDataDict.num_frames(batch) for batch in loader) for loader in loaders]


def _loaded(datamodule, stage):
    datamodule.prepare_data()
    datamodule.setup(stage)
    return datamodule


def test_sgdml_ccsd(tmp_path):
    train, test = _molecules(20, 0), _molecules(6, 1)
    np.savez(tmp_path / "aspirin_ccsd-train.npz", R=train["pos"], z=train["z"], E=train["E"], F=train["F"])
    np.savez(tmp_path / "aspirin_ccsd-test.npz", R=test["pos"], z=test["z"], E=test["E"], F=test["F"])
    dm = _loaded(sGDML_CCSD_DataModule("aspirin", str(tmp_path), [MAPPER], seed=1, train_val_split=[15, 5]), "fit")
    assert _count([dm.train_dataloader()]) == [15] and _count(dm.val_dataloader()) == [5]
    frame = dm.train_dataset[0][0]
    index = int(dm.train_dataset[0].indices[0])
    np.testing.assert_array_equal(frame[keys.POSITIONS_KEY].numpy(), train["pos"][index])
    assert frame[keys.TOTAL_ENERGY_KEY].item() == train["E"][index, 0]  # kcal/mol, as in the file
    dm.setup("test")
    assert _count(dm.test_dataloader()) == [6]
    subset = _loaded(
        sGDML_CCSD_DataModule(
            "aspirin", str(tmp_path), [], seed=1, train_val_split=[0.5, 0.5], trainval_test_subset=[10, 3]
        ),
        "test",
    )
    assert _count(subset.test_dataloader()) == [3]
    with pytest.raises(ValueError, match=r"dataset='coffee' is not supported; choose one of \['aspirin', 'benzene'"):
        sGDML_CCSD_DataModule("coffee", str(tmp_path), [], seed=1, train_val_split=[1, 1])


def test_rmd17_converts_kcal_per_mol_to_ev(tmp_path):
    data = _molecules(30, 2)
    folder = tmp_path / "rmd17" / "npz_data"
    folder.mkdir(parents=True)
    np.savez(
        folder / "rmd17_ethanol.npz",
        coords=data["pos"],
        nuclear_charges=data["z"],
        energies=data["E"][:, 0],
        forces=data["F"],
        old_indices=np.arange(30),
    )
    dm = _loaded(rMD17DataModule("ethanol", str(tmp_path), [MAPPER], seed=3, train_val_test_split=[20, 5, 5]), "fit")
    assert _count([dm.train_dataloader()]) == [20] and _count(dm.val_dataloader()) == [5]
    subset = dm.train_dataset[0]
    frame, index = subset[0], int(subset.indices[0])
    np.testing.assert_allclose(
        frame[keys.TOTAL_ENERGY_KEY].item(), data["E"][index, 0] * UPSTREAM_KCAL_PER_MOL_IN_EV, rtol=1e-6
    )
    np.testing.assert_allclose(frame[keys.FORCE_KEY].numpy(), data["F"][index] * UPSTREAM_KCAL_PER_MOL_IN_EV, rtol=1e-6)
    small = _loaded(
        rMD17DataModule("ethanol", str(tmp_path), [], seed=3, train_val_test_split=[0.6, 0.2, 0.2], subset_len=10),
        "test",
    )
    assert _count(small.test_dataloader()) == [2]


def test_md22_uses_the_papers_training_size(tmp_path):
    data = _molecules(6102, 4, numbers=(6, 1))  # buckyball_catcher's frame count, with two atoms per frame
    np.savez(tmp_path / "md22_buckyball-catcher.npz", R=data["pos"], z=data["z"], E=data["E"], F=data["F"])
    dm = _loaded(MD22DataModule("buckyball_catcher", str(tmp_path), [], seed=5, train_val_split=[500, 100]), "fit")
    assert [len(dm.train_dataset[0]), len(dm.val_dataset[0])] == [500, 100]
    frame = dm.val_dataset[0][0]
    index = int(dm.val_dataset[0].dataset.indices[dm.val_dataset[0].indices[0]])
    np.testing.assert_allclose(
        frame[keys.TOTAL_ENERGY_KEY].item(), data["E"][index, 0] * UPSTREAM_KCAL_PER_MOL_IN_EV, rtol=1e-6
    )
    dm.setup("test")
    (test,) = dm.test_dataset
    assert len(test) == 6102 - 600
    assert not set(test.indices) & set(dm.val_dataset[0].dataset.indices)  # test frames are not training frames


def test_3bpa(tmp_path):
    _write_xyz(tmp_path / "dataset_3BPA" / "train_mixedT.xyz", 10, 0)
    for idx, name in enumerate(NequIP3BPADataModule.TEST_SETS):
        _write_xyz(tmp_path / "dataset_3BPA" / f"test_{name}.xyz", 2 + idx, idx + 1)
    dm = _loaded(
        NequIP3BPADataModule(
            seed=1, transforms=[MAPPER], train_val_split=[8, 2], data_source_dir=str(tmp_path), train_set="mixedT"
        ),
        "test",
    )
    assert _count(dm.test_dataloader()) == [2, 3, 4, 5, 6, 7]
    some = NequIP3BPADataModule(
        seed=1,
        transforms=[],
        train_val_split=[8, 2],
        data_source_dir=str(tmp_path),
        train_set="mixedT",
        test_sets=["1200K"],
    )
    assert _count(_loaded(some, "test").test_dataloader()) == [4]
    assert _count([_loaded(some, "fit").train_dataloader()]) == [8]
    with pytest.raises(ValueError, match=r"test_sets\[0\]='900K' is not supported"):
        NequIP3BPADataModule(
            seed=1, transforms=[], train_val_split=[8, 2], data_source_dir=str(tmp_path), test_sets=["900K"]
        )


def test_tm23(tmp_path):
    folder = tmp_path / "benchmarking_master_collection"
    frames = _write_xyz(folder / "Cu_2700cwm_train.xyz", 10, 0)
    _write_xyz(folder / "Cu_2700cwm_test.xyz", 4, 1)
    dm = _loaded(
        TM23DataModule(seed=2, data_source_dir=str(tmp_path), element="Cu", transforms=[], train_val_split=[0.8, 0.2]),
        "fit",
    )
    assert _count([dm.train_dataloader()]) == [8]
    frame, index = dm.train_dataset[0][0], int(dm.train_dataset[0].indices[0])
    assert frame[keys.TOTAL_ENERGY_KEY].item() == pytest.approx(frames[index].get_potential_energy())
    dm.setup("test")
    assert _count(dm.test_dataloader()) == [4]
    with pytest.raises(ValueError, match="element='Xe' is not supported"):
        TM23DataModule(seed=2, data_source_dir=str(tmp_path), element="Xe", transforms=[], train_val_split=[1, 1])


def test_samd23(tmp_path):
    for name, count in (("Trainset", 6), ("Validset", 3), ("Testset", 2), ("OOD", 4)):
        _write_xyz(tmp_path / "SiN" / f"{name}.xyz", count, count)
    dm = _loaded(SAMD23DataModule(seed=0, transforms=[], data_source_dir=str(tmp_path), system="SiN"), "fit")
    assert _count([dm.train_dataloader()]) == [6] and _count(dm.val_dataloader()) == [3]
    dm.setup("test")
    assert _count(dm.test_dataloader()) == [2, 4]
    in_distribution = SAMD23DataModule(
        seed=0, transforms=[], data_source_dir=str(tmp_path), system="SiN", include_ood=False
    )
    assert _count(_loaded(in_distribution, "test").test_dataloader()) == [2]


def test_water_reads_its_own_key_names(tmp_path):
    frames = _write_xyz(tmp_path / "dataset_1593_eVAng.xyz", 10, 0, energy_key="TotEnergy", force_key="force")
    dm = _loaded(
        WaterDataModule(seed=0, transforms=[], data_source_dir=str(tmp_path), train_val_test_split=[6, 2, 2]), "fit"
    )
    frame, index = dm.train_dataset[0][0], int(dm.train_dataset[0].indices[0])
    assert frame[keys.TOTAL_ENERGY_KEY].item() == pytest.approx(frames[index].info["TotEnergy"])
    np.testing.assert_allclose(frame[keys.FORCE_KEY].numpy(), frames[index].arrays["force"])


def test_coll(tmp_path):
    for part, count in (("train", 5), ("val", 2), ("test", 3)):
        _write_xyz(tmp_path / f"coll_v1.2_AE_{part}.xyz", count, count)
    dm = _loaded(COLLDataModule(seed=0, transforms=[MAPPER], data_source_dir=str(tmp_path)), "fit")
    assert _count([dm.train_dataloader()]) == [5] and _count(dm.val_dataloader()) == [2]
    dm.setup("test")
    assert _count(dm.test_dataloader()) == [3]


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npz_bytes(**arrays):
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_download_extract_and_checksums(tmp_path, monkeypatch):
    """sGDML's zip is downloaded (from a file:// URL), extracted, recorded and verified."""
    source = tmp_path / "server"
    source.mkdir()
    train, test = _molecules(8, 0), _molecules(3, 1)
    _zip(
        source / "benzene_ccsd_t.zip",
        {
            "benzene_ccsd_t-train.npz": _npz_bytes(R=train["pos"], z=train["z"], E=train["E"], F=train["F"]),
            "benzene_ccsd_t-test.npz": _npz_bytes(R=test["pos"], z=test["z"], E=test["E"], F=test["F"]),
        },
    )
    monkeypatch.setattr(sGDML_CCSD_DataModule, "URL", f"file://{source}/{{stem}}.zip")
    data_dir = tmp_path / "data"

    def datamodule():
        return sGDML_CCSD_DataModule("benzene", str(data_dir), [], seed=0, train_val_split=[6, 2])

    dm = _loaded(datamodule(), "test")
    assert _count(dm.test_dataloader()) == [3]
    recorded = (data_dir / MANIFEST).read_text()
    assert f"{md5sum(data_dir / 'benzene_ccsd_t-test.npz')}  benzene_ccsd_t-test.npz" in recorded
    (source / "benzene_ccsd_t.zip").unlink()  # a second run uses the files (and checks them)
    _loaded(datamodule(), "fit")

    with open(data_dir / "benzene_ccsd_t-train.npz", "r+b") as file:  # corrupt one byte
        file.seek(100)
        byte = file.read(1)
        file.seek(100)
        file.write(bytes([byte[0] ^ 1]))
    expected = [line.split()[0] for line in recorded.splitlines() if line.endswith("-train.npz")][0]
    with pytest.raises(DataFileError) as error:
        datamodule().prepare_data()
    message = str(error.value)
    assert "benzene_ccsd_t-train.npz" in message and f"expected {expected}" in message
    assert f"file://{source}/benzene_ccsd_t.zip" in message

    (data_dir / "benzene_ccsd_t-train.npz").unlink()
    (data_dir / "benzene_ccsd_t.zip").unlink()
    with pytest.raises(
        DataFileError, match=r"could not download file://.*benzene_ccsd_t.zip .*place 'benzene_ccsd_t-train.npz'"
    ):
        datamodule().prepare_data()


def test_download_of_nested_archives(tmp_path, monkeypatch):
    """rMD17 comes as a zip holding a .tar.bz2; 3BPA as a .tar.gz; water as the file itself."""
    source = tmp_path / "server"
    (source / "rmd17" / "npz_data").mkdir(parents=True)
    data = _molecules(12, 3)
    np.savez(
        source / "rmd17" / "npz_data" / "rmd17_uracil.npz",
        coords=data["pos"],
        nuclear_charges=data["z"],
        energies=data["E"][:, 0],
        forces=data["F"],
    )
    with tarfile.open(source / "rmd17.tar.bz2", "w:bz2") as tar:
        tar.add(source / "rmd17", arcname="rmd17")
    _zip(source / "article.zip", {"rmd17.tar.bz2": (source / "rmd17.tar.bz2").read_bytes()})
    monkeypatch.setattr(rMD17DataModule, "DATASET_URL", f"file://{source}/article.zip")
    dm = _loaded(rMD17DataModule("uracil", str(tmp_path / "data"), [], seed=0, train_val_test_split=[8, 2, 2]), "test")
    assert _count(dm.test_dataloader()) == [2]

    bpa = source / "dataset_3BPA"
    _write_xyz(bpa / "train_300K.xyz", 5, 0)
    _write_xyz(bpa / "test_600K.xyz", 2, 1)
    with tarfile.open(source / "dataset_3BPA.tar.gz", "w:gz") as tar:
        tar.add(bpa, arcname="dataset_3BPA")
    monkeypatch.setattr(NequIP3BPADataModule, "URL", f"file://{source}/dataset_3BPA.tar.gz")
    dm = NequIP3BPADataModule(
        seed=0, transforms=[], train_val_split=[4, 1], data_source_dir=str(tmp_path / "bpa"), test_sets=["600K"]
    )
    assert _count(_loaded(dm, "test").test_dataloader()) == [2]

    _write_xyz(source / "water.xyz", 5, 0, energy_key="TotEnergy", force_key="force")
    monkeypatch.setattr(WaterDataModule, "URL", f"file://{source}/water.xyz")
    water = _loaded(
        WaterDataModule(seed=0, transforms=[], data_source_dir=str(tmp_path / "w"), train_val_test_split=[3, 1, 1]),
        "test",
    )
    assert _count(water.test_dataloader()) == [1]
    assert (tmp_path / "w" / "dataset_1593_eVAng.xyz").is_file()


def test_archives_may_not_write_outside_the_folder(tmp_path, monkeypatch):
    source = tmp_path / "server"
    source.mkdir()
    _zip(source / "evil.zip", {"../outside.npz": b"x"})
    monkeypatch.setattr(sGDML_CCSD_DataModule, "URL", f"file://{source}/evil.zip")
    with pytest.raises(DataFileError, match="has members outside its folder"):
        sGDML_CCSD_DataModule("toluene", str(tmp_path / "data"), [], seed=0, train_val_split=[1, 1]).prepare_data()
    assert not (tmp_path / "outside.npz").exists()


def test_frames_batch_with_a_model_ready_pipeline(tmp_path):
    """The transforms given to a benchmark datamodule run on its frames (types, neighbor lists)."""
    _write_xyz(tmp_path / "coll_v1.2_AE_train.xyz", 4, 0)
    for part in ("val", "test"):
        _write_xyz(tmp_path / f"coll_v1.2_AE_{part}.xyz", 2, 1)
    transforms = [MAPPER, {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": 2.0}]
    dm = _loaded(
        COLLDataModule(
            seed=0, transforms=transforms, data_source_dir=str(tmp_path), train_dataloader={"batch_size": 4}
        ),
        "fit",
    )
    batch = next(iter(dm.train_dataloader()))
    assert batch[keys.ATOM_TYPE_KEY].dtype == torch.long and keys.EDGE_INDEX_KEY in batch
