"""HDF5Dataset on files written in upstream NequIP's layout (one group per frame size)."""

import sys

import numpy as np
import pytest
import torch

from nequip.data import AtomicDataDict, keys
from nequip.data.dataset import HDF5Dataset
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

h5py = pytest.importorskip("h5py", reason="HDF5Dataset needs nequip-data[hdf5]")


def _group(rng, num_frames, num_atoms, numbers):
    return {
        "pos": rng.uniform(0, 4, size=(num_frames, num_atoms, 3)),
        "energy": rng.normal(size=num_frames),
        "forces": rng.normal(size=(num_frames, num_atoms, 3)),
        "atomic_numbers": np.tile(numbers, (num_frames, 1)),
    }


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    rng = np.random.default_rng(4)
    root = tmp_path_factory.mktemp("hdf5")
    content = {
        "a.h5": {"3_atoms": _group(rng, 4, 3, [8, 1, 1]), "5_atoms": _group(rng, 2, 5, [6, 1, 1, 1, 1])},
        "b.h5": {"2_atoms": _group(rng, 3, 2, [1, 1])},
    }
    for name, groups in content.items():
        with h5py.File(root / name, "w") as file:
            for group_name, arrays in groups.items():
                for array_name, array in arrays.items():
                    file.create_dataset(f"{group_name}/{array_name}", data=array)
    # frames in the order of the dataset: file by file, group by group in name order
    expected = [
        {name: arrays[name][row] for name in arrays}
        for file_name in ("a.h5", "b.h5")
        for _, arrays in sorted(content[file_name].items())
        for row in range(len(arrays["energy"]))
    ]
    return f"{root / 'a.h5'};{root / 'b.h5'}", expected


def test_frames_are_the_written_arrays(files):
    file_name, expected = files
    dataset = HDF5Dataset(file_name)
    assert len(dataset) == len(expected) == 9
    for index in (0, 3, 4, 5, 8):
        frame = dataset[index]
        np.testing.assert_array_equal(frame[keys.POSITIONS_KEY].numpy(), expected[index]["pos"])
        np.testing.assert_array_equal(frame[keys.FORCE_KEY].numpy(), expected[index]["forces"])
        assert frame[keys.TOTAL_ENERGY_KEY].tolist() == [[expected[index]["energy"]]]
        assert frame[keys.ATOMIC_NUMBERS_KEY].tolist() == expected[index]["atomic_numbers"].tolist()
        assert frame[keys.FRAME_INDEX_KEY].tolist() == [index]
        assert frame[keys.POSITIONS_KEY].dtype == torch.float64 and not frame[keys.PBC_KEY].any()
    assert dataset.num_atoms([0, 4, 8]) == [3, 5, 2]


def test_transforms_dataloader_workers_and_key_mapping(files):
    file_name, expected = files
    transforms = [ChemicalSpeciesToAtomTypeMapper(["H", "C", "O"]), NeighborListTransform(r_max=2.5)]
    dataset = HDF5Dataset(file_name, transforms=transforms)
    dataset[0]  # opens the files in this process; the worker must open its own
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=4, num_workers=1, collate_fn=AtomicDataDict.batched_from_list
    )
    batches = list(loader)
    assert sum(AtomicDataDict.num_frames(b) for b in batches) == 9
    assert keys.EDGE_INDEX_KEY in batches[0] and keys.ATOM_TYPE_KEY in batches[0]
    energies = HDF5Dataset(file_name, key_mapping={"pos": keys.POSITIONS_KEY, "energy": keys.TOTAL_ENERGY_KEY})
    assert set(energies[1]) >= {keys.POSITIONS_KEY, keys.TOTAL_ENERGY_KEY} and keys.FORCE_KEY not in energies[1]


def test_errors(files, tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="file_name .*missing.h5' does not exist"):
        HDF5Dataset(str(tmp_path / "missing.h5"))
    with h5py.File(tmp_path / "bad.h5", "w") as file:
        file.create_dataset("g/pos", data=np.zeros((3, 2, 3)))
        file.create_dataset("g/energy", data=np.zeros(2))
    with pytest.raises(
        ValueError, match=r"group 'g': arrays have different numbers of frames \{'pos': 3, 'energy': 2\}"
    ):
        HDF5Dataset(str(tmp_path / "bad.h5"))
    monkeypatch.setitem(sys.modules, "h5py", None)  # as if h5py were not installed
    with pytest.raises(ImportError, match=r"HDF5Dataset needs h5py: pip install 'nequip-data\[hdf5\]'"):
        HDF5Dataset(files[0])
