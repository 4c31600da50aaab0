"""Datasets: ASE files, NPZ arrays, EMT test data, LMDB files; frame indices and transforms."""

import doctest
import pickle
from pathlib import Path

import ase
import ase.build
import ase.io
import numpy as np
import pytest
import torch
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator

from nequip.data import AtomicDataDict, keys, to_ase
from nequip.data.dataset import (
    ASEDataset,
    EMTTestDataset,
    LMDBTestDataset,
    NequIPLMDBDataset,
    NPZDataset,
    ase_dataset,
    convert_to_lmdb,
    emt_dataset,
    lmdb_dataset,
    split,
)
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

REPO_DATA = Path(__file__).resolve().parents[3] / "data"  # the reference data sets (tools/make_data.py)


def _cuau_frames(num_frames: int = 5, seed: int = 0):
    """Small Cu/Au frames of different sizes labelled by EMT, as in emt_cuau.xyz."""
    rng = np.random.default_rng(seed)
    frames = []
    for idx in range(num_frames):
        atoms = ase.build.bulk("Cu", "fcc", a=3.7, cubic=True).repeat((1, 1, 1 + idx % 2))
        atoms.set_chemical_symbols(list(rng.choice(["Cu", "Au"], size=len(atoms))))
        atoms.positions += rng.normal(0.0, 0.1, atoms.positions.shape)
        atoms.calc = EMT()
        results = dict(energy=atoms.get_potential_energy(), forces=atoms.get_forces(), stress=atoms.get_stress())
        atoms.calc = SinglePointCalculator(atoms, **results)
        frames.append(atoms)
    return frames


@pytest.fixture(scope="module")
def cuau_xyz(tmp_path_factory):
    frames = _cuau_frames()
    path = tmp_path_factory.mktemp("data") / "cuau.xyz"
    ase.io.write(path, frames, format="extxyz")
    return path, ase.io.read(path, index=":")  # as written (extxyz rounds positions to 1e-8)


# === ASEDataset ===


def test_ase_dataset_matches_file(cuau_xyz):
    path, frames = cuau_xyz
    dataset = ASEDataset(str(path))
    assert len(dataset) == len(frames)
    for idx, atoms in enumerate(frames):
        data = dataset[idx]
        assert data[keys.FRAME_INDEX_KEY].tolist() == [idx]
        assert data[keys.FRAME_INDEX_KEY].dtype == torch.long
        assert data[keys.POSITIONS_KEY].dtype == torch.float64
        np.testing.assert_allclose(data[keys.POSITIONS_KEY].numpy(), atoms.positions, rtol=0, atol=1e-12)
        assert data[keys.ATOMIC_NUMBERS_KEY].tolist() == atoms.numbers.tolist()
        np.testing.assert_allclose(data[keys.FORCE_KEY].numpy(), atoms.get_forces(), rtol=1e-12)
        assert data[keys.TOTAL_ENERGY_KEY].shape == (1, 1)
        assert data[keys.TOTAL_ENERGY_KEY].item() == pytest.approx(atoms.get_potential_energy(), rel=1e-12)
        np.testing.assert_allclose(data[keys.STRESS_KEY][0].numpy(), atoms.get_stress(voigt=False), atol=1e-14)
    # indexing by list, slice, tensor and negative index
    assert [d[keys.FRAME_INDEX_KEY].item() for d in dataset[[3, 1]]] == [3, 1]
    assert [d[keys.FRAME_INDEX_KEY].item() for d in dataset[1:5:2]] == [1, 3]
    assert dataset[torch.tensor(2)][keys.FRAME_INDEX_KEY].item() == 2
    assert dataset[-1][keys.FRAME_INDEX_KEY].item() == len(frames) - 1
    assert dataset.num_atoms([0, 1]) == [len(frames[0]), len(frames[1])]
    with pytest.raises(IndexError, match="out of range"):
        dataset[len(frames)]


def test_ase_dataset_args(cuau_xyz):
    path, frames = cuau_xyz
    subset = ASEDataset(str(path), ase_args={"index": "1:3", "format": "extxyz"}, exclude_keys=[keys.STRESS_KEY])
    assert len(subset) == 2
    assert keys.STRESS_KEY not in subset[0]
    assert subset[0][keys.TOTAL_ENERGY_KEY].item() == pytest.approx(frames[1].get_potential_energy(), rel=1e-12)
    with pytest.raises(ValueError, match="filename"):
        ASEDataset(str(path), ase_args={"filename": "x"})
    with pytest.raises(FileNotFoundError, match="file_path 'no/such.xyz' does not exist"):
        ASEDataset("no/such.xyz")


def test_transforms_applied_in_order_without_changing_stored_frames(cuau_xyz):
    path, _ = cuau_xyz
    calls = []

    def first(data):
        calls.append(("first", data[keys.FRAME_INDEX_KEY].item()))
        data[keys.TOTAL_ENERGY_KEY] = data[keys.TOTAL_ENERGY_KEY] * 2
        return data

    def second(data):
        calls.append(("second", data[keys.FRAME_INDEX_KEY].item()))
        data[keys.TOTAL_ENERGY_KEY] = data[keys.TOTAL_ENERGY_KEY] + 1
        return data

    plain = ASEDataset(str(path))
    dataset = ASEDataset(str(path), transforms=[first, second])
    for _ in range(2):  # the second pass must see the same stored frame again
        data = dataset[2]
        assert data[keys.TOTAL_ENERGY_KEY].item() == pytest.approx(2 * plain[2][keys.TOTAL_ENERGY_KEY].item() + 1)
    assert calls == [("first", 2), ("second", 2)] * 2
    assert keys.FRAME_INDEX_KEY not in dataset.data_list[2]

    typed = ASEDataset(
        str(path), transforms=[ChemicalSpeciesToAtomTypeMapper(["Cu", "Au"]), NeighborListTransform(r_max=3.0)]
    )
    data = typed[0]
    assert keys.ATOM_TYPE_KEY in data and keys.EDGE_INDEX_KEY in data
    assert keys.ATOM_TYPE_KEY not in typed.data_list[0] and keys.EDGE_INDEX_KEY not in typed.data_list[0]


def test_transform_error_names_dataset_and_frame(cuau_xyz):
    path, frames = cuau_xyz
    only_cu = ASEDataset(str(path), transforms=[ChemicalSpeciesToAtomTypeMapper(["Cu"])])
    bad = next(i for i, atoms in enumerate(frames) if "Au" in atoms.get_chemical_symbols())
    with pytest.raises(
        ValueError, match=rf"ASEDataset\('.*cuau.xyz'\), frame {bad}: transform ChemicalSpeciesToAtomTypeMapper"
    ):
        only_cu[bad]
    with pytest.raises(ValueError, match=r"transforms\[0\] must be a callable"):
        ASEDataset(str(path), transforms=[{"_target_": "nequip.data.transforms.NeighborListTransform"}])


def test_reference_emt_cuau_file():
    dataset = ASEDataset(str(REPO_DATA / "emt_cuau.xyz"))
    assert len(dataset) == 300
    first = dataset[0]
    assert AtomicDataDict.num_nodes(first) == 54
    # numbers from the file's first header line
    assert first[keys.TOTAL_ENERGY_KEY].item() == 15.293377123884895
    assert first[keys.STRESS_KEY][0, 0, 1].item() == 0.0016838782473038102
    assert first[keys.CELL_KEY][0, 2, 2].item() == 11.229043388906687
    assert first[keys.PBC_KEY].tolist() == [[True, True, True]]
    numbers = torch.cat([d[keys.ATOMIC_NUMBERS_KEY] for d in dataset[0:10]])
    assert set(numbers.tolist()) == {29, 79}


# === NPZDataset ===


def test_npz_dataset_round_trip(tmp_path):
    emt = EMTTestDataset(supercell=(1, 1, 2), num_frames=4, seed=3)
    frames = [emt[i] for i in range(len(emt))]
    arrays = {
        "R": np.stack([f[keys.POSITIONS_KEY].numpy() for f in frames]),
        "z": frames[0][keys.ATOMIC_NUMBERS_KEY].numpy(),
        "E": np.array([f[keys.TOTAL_ENERGY_KEY].item() for f in frames]),
        "F": np.stack([f[keys.FORCE_KEY].numpy() for f in frames]),
        "cell": np.stack([f[keys.CELL_KEY][0].numpy() for f in frames]),
        "pbc": np.array([True, True, True]),
        "S": np.stack([f[keys.STRESS_KEY][0].numpy() for f in frames]),
        "unused": np.zeros(7),
    }
    np.savez(tmp_path / "emt.npz", **arrays)
    mapping = {
        "R": "pos",
        "z": "atomic_numbers",
        "E": "total_energy",
        "F": "forces",
        "cell": "cell",
        "pbc": "pbc",
        "S": "stress",
    }
    dataset = NPZDataset(str(tmp_path / "emt.npz"), key_mapping=mapping)
    assert len(dataset) == 4
    for idx, expected in enumerate(frames):
        data = dataset[idx]
        assert set(data) == set(expected)
        for field, value in expected.items():
            assert data[field].dtype == value.dtype, field
            assert data[field].shape == value.shape, field
            assert torch.equal(data[field], value), field
    # a transform writing in place must not change the stored arrays
    dataset[0][keys.FORCE_KEY].mul_(0.0)
    assert torch.equal(dataset[0][keys.FORCE_KEY], frames[0][keys.FORCE_KEY])


def test_npz_dataset_rmd17_layout(tmp_path):
    rng = np.random.default_rng(0)
    num_frames, num_atoms = 3, 3  # as many frames as atoms: shared and per-frame arrays must not be confused
    np.savez(
        tmp_path / "rmd17.npz",
        coords=rng.normal(size=(num_frames, num_atoms, 3)),
        nuclear_charges=np.array([8, 1, 1]),
        energies=rng.normal(size=(num_frames, 1)),
        forces=rng.normal(size=(num_frames, num_atoms, 3)),
    )
    mapping = {"coords": "pos", "nuclear_charges": "atomic_numbers", "energies": "total_energy", "forces": "forces"}
    dataset = NPZDataset(str(tmp_path / "rmd17.npz"), key_mapping=mapping)
    data = dataset[2]
    assert data[keys.ATOMIC_NUMBERS_KEY].tolist() == [8, 1, 1]
    assert data[keys.TOTAL_ENERGY_KEY].shape == (1, 1)
    assert data[keys.PBC_KEY].tolist() == [[False, False, False]]
    assert torch.equal(data[keys.CELL_KEY], torch.zeros(1, 3, 3, dtype=torch.float64))
    assert data[keys.FRAME_INDEX_KEY].tolist() == [2]
    with pytest.raises(KeyError, match=r"has no arrays \['E', 'F', 'R', 'z'\]"):
        NPZDataset(str(tmp_path / "rmd17.npz"))
    with pytest.raises(ValueError, match="required field 'atomic_numbers'"):
        NPZDataset(str(tmp_path / "rmd17.npz"), key_mapping={"coords": "pos"})


# === EMTTestDataset ===


def test_emt_dataset_matches_upstream_numbers():
    # upstream NequIP 0.19.1, EMTTestDataset(supercell=(2, 2, 2), num_frames=3, seed=7), float64:
    # (total_energy, forces[3, 1], stress[0, 0, 1]) of each frame
    upstream = [
        (1.3116166004025374, -0.9159745907530796, 0.004366741308923182),
        (1.1341377771846162, -0.634388503980345, 0.0003307604465876138),
        (1.4811661064819859, 0.2929614035166006, 0.001620950442679561),
    ]
    dataset = EMTTestDataset(supercell=(2, 2, 2), num_frames=3, seed=7)
    for data, (energy, force, stress) in zip(dataset, upstream):
        assert data[keys.TOTAL_ENERGY_KEY].item() == pytest.approx(energy, rel=1e-12)
        assert data[keys.FORCE_KEY][3, 1].item() == pytest.approx(force, rel=1e-12)
        assert data[keys.STRESS_KEY][0, 0, 1].item() == pytest.approx(stress, rel=1e-10)


def test_emt_dataset_reproducible_alloy():
    a = EMTTestDataset(supercell=(1, 1, 2), element=["Cu", "Au"], num_frames=3, seed=5)
    b = EMTTestDataset(supercell=(1, 1, 2), element=["Cu", "Au"], num_frames=3, seed=5)
    c = EMTTestDataset(supercell=(1, 1, 2), element=["Cu", "Au"], num_frames=3, seed=6)
    for i in range(3):
        assert all(torch.equal(a[i][k], b[i][k]) for k in a[i])
    assert not torch.equal(a[0][keys.POSITIONS_KEY], c[0][keys.POSITIONS_KEY])
    numbers = torch.cat([d[keys.ATOMIC_NUMBERS_KEY] for d in a])
    assert set(numbers.tolist()) == {29, 79}
    # labels agree with ASE's EMT evaluated afresh
    atoms = to_ase(a[1])[0]
    atoms.calc = EMT()
    assert a[1][keys.TOTAL_ENERGY_KEY].item() == pytest.approx(atoms.get_potential_energy(), rel=1e-12)
    np.testing.assert_allclose(a[1][keys.FORCE_KEY].numpy(), atoms.get_forces(), atol=1e-12)


def test_emt_dataset_errors():
    with pytest.raises(ValueError, match="element must be one or a list of"):
        EMTTestDataset(element="Fe")
    with pytest.raises(ValueError, match="supercell must be three positive integers"):
        EMTTestDataset(supercell=(1, 1))
    with pytest.raises(ValueError, match="num_frames must be a positive integer"):
        EMTTestDataset(num_frames=0)


# === LMDB ===


def _assert_same_frames(dataset_a, dataset_b):
    assert len(dataset_a) == len(dataset_b)
    for idx in range(len(dataset_a)):
        a, b = dataset_a[idx], dataset_b[idx]
        assert set(a) == set(b)
        for field in a:
            assert a[field].dtype == b[field].dtype, field
            assert a[field].shape == b[field].shape, field
            assert torch.equal(a[field], b[field]), field


def test_lmdb_round_trip_identical(tmp_path, cuau_xyz):
    path, _ = cuau_xyz
    source = ASEDataset(str(path), transforms=[NeighborListTransform(r_max=3.0)])
    lmdb_path = str(tmp_path / "cuau.lmdb")
    NequIPLMDBDataset.save_from_iterator(lmdb_path, source, write_frequency=2)
    stored = NequIPLMDBDataset(lmdb_path)
    _assert_same_frames(source, stored)
    assert stored[0][keys.EDGE_INDEX_KEY].dtype == torch.long
    assert stored.num_atoms([0, 1]) == source.num_atoms([0, 1])
    assert stored.metadata["num_edges_per_entry"].tolist() == [AtomicDataDict.num_edges(d) for d in source]

    # a pickled copy and a second dataset on the same file read from it in the same process,
    # and a forked worker reads after the parent has opened the file
    _assert_same_frames(source, pickle.loads(pickle.dumps(stored)))
    loader = torch.utils.data.DataLoader(
        stored, batch_size=2, num_workers=1, collate_fn=AtomicDataDict.batched_from_list
    )
    batches = list(loader)
    assert torch.equal(batches[0][keys.POSITIONS_KEY], torch.cat([source[0]["pos"], source[1]["pos"]]))

    without = NequIPLMDBDataset(lmdb_path, exclude_keys=[keys.FORCE_KEY])
    assert keys.FORCE_KEY not in without[0] and keys.TOTAL_ENERGY_KEY in without[0]
    with pytest.raises(FileExistsError, match="cuau.lmdb"):
        NequIPLMDBDataset.save_from_iterator(lmdb_path, source)


def test_convert_to_lmdb_sources(tmp_path, cuau_xyz):
    path, frames = cuau_xyz
    emt = EMTTestDataset(supercell=(1, 1, 1), num_frames=3, seed=2)
    _assert_same_frames(emt, convert_to_lmdb(emt, str(tmp_path / "emt.lmdb")))
    from_path = convert_to_lmdb(str(path), str(tmp_path / "from_path.lmdb"))
    from_atoms = convert_to_lmdb(frames, str(tmp_path / "from_atoms.lmdb"))
    _assert_same_frames(ASEDataset(str(path)), from_path)
    _assert_same_frames(from_path, from_atoms)
    test_set = LMDBTestDataset(str(tmp_path / "test.lmdb"), supercell=(1, 1, 1), num_frames=3, seed=2)
    _assert_same_frames(emt, test_set)
    with pytest.raises(ValueError, match="exists with 3 frames, not num_frames=4"):
        LMDBTestDataset(str(tmp_path / "test.lmdb"), supercell=(1, 1, 1), num_frames=4, seed=2)
    with pytest.raises(ValueError, match="item 0 holds 2 frames"):
        convert_to_lmdb([AtomicDataDict.batched_from_list([emt[0], emt[1]])], str(tmp_path / "batched.lmdb"))


# === docstring examples ===


@pytest.mark.parametrize("module", [ase_dataset, emt_dataset, lmdb_dataset, split])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", ["emt_cuau.xyz", "xtb_ethanol.xyz"])
def test_fast_extxyz_reader_gives_the_same_frames_as_ase(name):
    path = REPO_DATA / name
    fast = ASEDataset(str(path), ase_args={"index": ":40"})
    reference = ASEDataset(str(path), ase_args={"index": ":40", "format": "extxyz"})
    assert fast.ase_args["format"] == "cextxyz" and len(fast) == len(reference) == 40
    for idx in range(len(fast)):
        a, b = fast[idx], reference[idx]
        assert a.keys() == b.keys()
        assert keys.TOTAL_ENERGY_KEY in a and keys.FORCE_KEY in a
        for field in a:
            assert torch.equal(a[field], b[field]), (idx, field)
