"""Batching and unbatching, counts, device/dtype moves."""

import ase.build
import pytest
import torch

from nequip.data import AtomicDataDict, compute_neighborlist_, from_ase, keys


def _frames():
    bulk = ase.build.bulk("Cu", "fcc", a=3.6, cubic=True)
    bulk.rattle(0.05, seed=3)
    frames = [bulk, ase.build.molecule("CH4"), ase.build.bulk("Au", "fcc", a=4.1)]
    return [compute_neighborlist_(from_ase(a), 3.0) for a in frames]


def test_batch_round_trip():
    frames = _frames()
    batch = AtomicDataDict.batched_from_list(frames)
    assert AtomicDataDict.num_frames(batch) == 3
    assert AtomicDataDict.num_nodes(batch) == sum(AtomicDataDict.num_nodes(f) for f in frames)
    assert AtomicDataDict.num_edges(batch) == sum(AtomicDataDict.num_edges(f) for f in frames)
    assert batch[keys.BATCH_KEY].tolist() == [0] * 4 + [1] * 5 + [2]
    assert batch[keys.CELL_KEY].shape == (3, 3, 3)
    for idx, frame in enumerate(frames):
        back = AtomicDataDict.frame_from_batched(batch, idx)
        assert back.keys() == frame.keys()
        for field in frame:
            assert torch.equal(back[field], frame[field]), field
    # a batch of batches is a batch
    nested = AtomicDataDict.batched_from_list([AtomicDataDict.batched_from_list(frames[:2]), frames[2]])
    for field in batch:
        assert torch.equal(nested[field], batch[field]), field


def test_edge_vectors_batch_equal_frames():
    frames = _frames()
    batch = AtomicDataDict.with_edge_vectors_(AtomicDataDict.batched_from_list(frames))
    for index, frame in enumerate(frames):
        torch.testing.assert_close(
            AtomicDataDict.frame_from_batched(batch, index)[keys.EDGE_VECTORS_KEY],
            AtomicDataDict.with_edge_vectors_(dict(frame))[keys.EDGE_VECTORS_KEY],
            rtol=0,
            atol=1e-14,
        )


def test_mismatched_fields_are_named():
    frames = _frames()
    del frames[1][keys.EDGE_CELL_SHIFT_KEY]
    with pytest.raises(KeyError, match=r"frame 1 .* missing \['edge_cell_shift'\]"):
        AtomicDataDict.batched_from_list(frames)
    with pytest.raises(ValueError, match="empty list"):
        AtomicDataDict.batched_from_list([])


def test_frame_index_out_of_range():
    batch = AtomicDataDict.batched_from_list(_frames())
    with pytest.raises(IndexError, match="frame index 3 is out of range for a batch of 3"):
        AtomicDataDict.frame_from_batched(batch, 3)
    assert AtomicDataDict.num_nodes(AtomicDataDict.frame_from_batched(batch, -1)) == 1


def test_to_casts_floats_only():
    data = AtomicDataDict.to_(_frames()[0], dtype=torch.float32)
    assert data[keys.POSITIONS_KEY].dtype == torch.float32
    assert data[keys.EDGE_INDEX_KEY].dtype == torch.long
    assert data[keys.PBC_KEY].dtype == torch.bool


def test_with_batch_for_hand_made_frames():
    data = AtomicDataDict.with_batch_({keys.POSITIONS_KEY: torch.zeros(4, 3, dtype=torch.float64)})
    assert data[keys.NUM_NODES_KEY].tolist() == [4]
    assert data[keys.BATCH_KEY].tolist() == [0, 0, 0, 0]
