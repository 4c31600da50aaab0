"""Stress, cell and dataset-index transforms; from_dict; PartialSampler; the field registry's upstream names."""

import ase
import ase.build
import numpy as np
import pytest
import torch
from ase.calculators.emt import EMT

import nequip.data
from nequip.data import AtomicDataDict, PartialSampler, compute_neighborlist_, from_ase, from_dict, keys
from nequip.data.transforms import (
    AddNaNStressTransform,
    DatasetIndexTransform,
    NonPeriodicCellTransform,
    StressSignFlipTransform,
    VirialToStressTransform,
)


def _emt_crystal():
    atoms = ase.build.bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.rattle(0.05, seed=2)
    atoms.calc = EMT()
    stress = atoms.get_stress(voigt=False)  # computes the results from_ase reads
    return from_ase(atoms), stress


def test_stress_sign_flip_and_nan_stress():
    data, stress = _emt_crystal()
    flipped = StressSignFlipTransform()(dict(data))
    np.testing.assert_allclose(flipped[keys.STRESS_KEY][0].numpy(), -stress, atol=1e-12)
    assert torch.equal(StressSignFlipTransform()(flipped)[keys.STRESS_KEY], data[keys.STRESS_KEY])
    with pytest.raises(KeyError, match="StressSignFlipTransform: the frame has no 'stress' field"):
        StressSignFlipTransform()(from_ase(ase.build.molecule("H2O")))

    assert torch.equal(AddNaNStressTransform()(dict(data))[keys.STRESS_KEY], data[keys.STRESS_KEY])  # kept
    with_stress = {**from_ase(ase.build.molecule("H2O")), keys.STRESS_KEY: data[keys.STRESS_KEY]}
    frames = [AddNaNStressTransform()(from_ase(ase.build.molecule("H2O"))), with_stress]
    batch = AtomicDataDict.batched_from_list(frames)  # frames with and without stress batch together
    assert batch[keys.STRESS_KEY].shape == (2, 3, 3) and batch[keys.STRESS_KEY].dtype == torch.float64
    assert batch[keys.STRESS_KEY][0].isnan().all() and not batch[keys.STRESS_KEY][1].isnan().any()


def test_virial_to_stress_is_inverse_of_stress_definition():
    data, stress = _emt_crystal()
    volume = abs(np.linalg.det(data[keys.CELL_KEY][0].numpy()))
    data.pop(keys.STRESS_KEY)
    data[keys.VIRIAL_KEY] = torch.from_numpy(-stress * volume).unsqueeze(0)
    np.testing.assert_allclose(VirialToStressTransform()(data)[keys.STRESS_KEY][0].numpy(), stress, atol=1e-12)


def test_non_periodic_cell_transform():
    molecule = from_ase(ase.build.molecule("CH3CH2OH"))  # zero cell, pbc false
    pos = molecule[keys.POSITIONS_KEY].clone()
    with_nl = compute_neighborlist_(dict(molecule), 3.0)
    vectors = AtomicDataDict.with_edge_vectors_(dict(with_nl))[keys.EDGE_VECTORS_KEY]
    out = NonPeriodicCellTransform(padding=4.0)(with_nl)
    low, high = pos.amin(dim=0), pos.amax(dim=0)
    assert torch.allclose(out[keys.POSITIONS_KEY], pos - low + 4.0)
    assert torch.allclose(out[keys.CELL_KEY][0], torch.diag(high - low + 8.0))
    assert out[keys.POSITIONS_KEY].amin() >= 4.0 - 1e-12
    assert (out[keys.POSITIONS_KEY] <= out[keys.CELL_KEY][0].diagonal() - 4.0 + 1e-12).all()
    # the neighbor list computed before stays valid: same edge vectors
    out.pop(keys.EDGE_VECTORS_KEY, None)
    assert torch.allclose(AtomicDataDict.with_edge_vectors_(out)[keys.EDGE_VECTORS_KEY], vectors)

    crystal, _ = _emt_crystal()
    assert torch.equal(NonPeriodicCellTransform()(dict(crystal))[keys.POSITIONS_KEY], crystal[keys.POSITIONS_KEY])
    boxed = from_ase(ase.build.molecule("H2O", vacuum=3.0))  # non-periodic with a cell: kept unless override_cell
    boxed[keys.PBC_KEY][:] = False
    assert torch.equal(NonPeriodicCellTransform()(dict(boxed))[keys.CELL_KEY], boxed[keys.CELL_KEY])
    assert not torch.equal(
        NonPeriodicCellTransform(override_cell=True)(dict(boxed))[keys.CELL_KEY], boxed[keys.CELL_KEY]
    )
    # each frame of a batch gets its own cell
    batch = AtomicDataDict.batched_from_list([from_ase(ase.build.molecule(m)) for m in ("H2O", "C6H6")])
    cells = NonPeriodicCellTransform(padding=1.0)(batch)[keys.CELL_KEY]
    assert cells.shape == (2, 3, 3) and not torch.allclose(cells[0], cells[1])


def test_dataset_index_transform():
    data = DatasetIndexTransform(3)(from_ase(ase.build.molecule("H2O")))
    assert data[keys.DATASET_KEY].tolist() == [[3]] and data[keys.DATASET_KEY].dtype == torch.long
    batch = AtomicDataDict.batched_from_list([data, DatasetIndexTransform(5)(from_ase(ase.build.molecule("CH4")))])
    assert batch[keys.DATASET_KEY].tolist() == [[3], [5]]
    with pytest.raises(ValueError, match="dataset_index must be a non-negative integer, got -1"):
        DatasetIndexTransform(-1)


def test_from_dict_matches_from_ase():
    data, _ = _emt_crystal()
    plain = {field: value.numpy() for field, value in data.items() if field not in (keys.BATCH_KEY, keys.NUM_NODES_KEY)}
    plain[keys.STRESS_KEY] = plain[keys.STRESS_KEY].reshape(9).tolist()  # flat 9
    plain[keys.TOTAL_ENERGY_KEY] = float(plain[keys.TOTAL_ENERGY_KEY][0, 0])  # a number
    plain[keys.PBC_KEY] = True
    converted = from_dict(plain)
    assert set(converted) == set(data)
    for field, value in data.items():
        assert converted[field].dtype == value.dtype, field
        assert torch.equal(converted[field], value), field


def test_from_dict_shapes_and_errors():
    frame = from_dict(
        {
            "pos": [[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]],
            "atomic_numbers": [1, 1],
            "stress": [1, 2, 3, 4, 5, 6],
            "pbc": [True, True, False],
            "cell": np.eye(3) * 4,
        }
    )
    assert frame[keys.CELL_KEY].dtype == torch.float64 and frame[keys.PBC_KEY].tolist() == [[True, True, False]]
    np.testing.assert_array_equal(frame[keys.STRESS_KEY][0].numpy(), [[1, 6, 5], [6, 2, 4], [5, 4, 3]])  # Voigt
    assert frame[keys.CELL_KEY].shape == (1, 3, 3) and frame[keys.BATCH_KEY].tolist() == [0, 0]
    with pytest.raises(ValueError, match="from_dict needs 'pos'"):
        from_dict({"atomic_numbers": [1]})
    with pytest.raises(ValueError, match="a 'cell' is given without 'pbc'"):
        from_dict({"pos": [[0.0, 0.0, 0.0]], "cell": np.eye(3)})
    with pytest.raises(ValueError, match=r"node field 'forces' has shape \(3, 3\); .* number of atoms, 2"):
        from_dict({"pos": np.zeros((2, 3)), "forces": np.zeros((3, 3))})
    with pytest.raises(KeyError, match="unknown field 'band_gap'"):
        from_dict({"pos": np.zeros((2, 3)), "band_gap": 1.0})


def test_partial_sampler_draws_upstreams_frames():
    sampler = PartialSampler(range(7), num_samples_per_epoch=5, generator=torch.Generator().manual_seed(7))
    # what upstream NequIP 0.19.1's PartialSampler draws for these arguments, epochs 0 to 3
    upstream = [[5, 0, 3, 1, 2], [6, 4, 1, 5, 3], [4, 0, 2, 6, 4], [5, 6, 0, 2, 1]]
    assert [list(sampler) for _ in range(4)] == upstream
    sampler.step_epoch(2)  # a restart at epoch 2 draws what epoch 2 drew
    assert list(sampler) == upstream[2] and len(sampler) == 5
    # every frame once per pass through the data set
    passes = sum((list(PartialSampler(range(7), shuffle=False, num_samples_per_epoch=7)) for _ in range(1)), [])
    assert passes == list(range(7))
    loader = torch.utils.data.DataLoader(list(range(10, 17)), sampler=sampler, batch_size=5)
    sampler.step_epoch(0)
    assert next(iter(loader)).tolist() == [10 + i for i in upstream[0]]
    with pytest.raises(ValueError, match=r"num_samples_per_epoch must be in 1..7 \(the dataset's size\), got 8"):
        PartialSampler(range(7), num_samples_per_epoch=8, generator=torch.Generator())
    with pytest.raises(ValueError, match="shuffle=True needs a generator"):
        PartialSampler(range(7))


def test_field_registry_names_are_live_views():
    registry = nequip.data
    assert keys.FORCE_KEY in registry._NODE_FIELDS and keys.STRESS_KEY in registry._GRAPH_FIELDS
    assert keys.EDGE_CELL_SHIFT_KEY in registry._EDGE_FIELDS and keys.ATOM_TYPE_KEY in registry._LONG_FIELDS
    assert registry._CARTESIAN_TENSOR_FIELDS[keys.STRESS_KEY] == "ij=ji"
    assert registry.ABBREV[keys.FORCE_KEY] == "F"
    try:
        registry.register_fields(node_fields=["bec"], cartesian_tensor_fields={"bec": "ij", "polar": "ij=ji"})
        assert "bec" in registry._NODE_FIELDS and registry._CARTESIAN_TENSOR_FIELDS["bec"] == "ij"
        assert "polar" in registry._GRAPH_FIELDS  # a Cartesian tensor is per frame unless given as a node field
        registry._register_field_prefix("original_dataset_")
        assert "original_dataset_forces" in registry._NODE_FIELDS
        assert "original_dataset_edge_index" in registry._EDGE_FIELDS
        assert "original_dataset_num_atoms" in registry._LONG_FIELDS
        assert registry._CARTESIAN_TENSOR_FIELDS["original_dataset_bec"] == "ij"
        with pytest.raises(ValueError, match="prefix must be a string ending in '_'"):
            registry._register_field_prefix("copy")
        with pytest.raises(ValueError, match="node_fields must be a list of field names, got the single string 'xyz'"):
            registry.register_fields(node_fields="xyz")
    finally:
        prefixed = [
            f
            for f in set(registry._NODE_FIELDS | registry._EDGE_FIELDS | registry._GRAPH_FIELDS)
            if f.startswith("original_dataset_")
        ]
        registry.deregister_fields("bec", "polar", *prefixed)
    assert "bec" not in registry._NODE_FIELDS and "bec" not in registry._CARTESIAN_TENSOR_FIELDS
    assert not any(f.startswith("original_dataset_") for f in registry._LONG_FIELDS)
