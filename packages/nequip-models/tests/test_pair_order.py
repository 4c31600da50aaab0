"""Radial MLPs once per pair of edges: any full edge list gives the numbers of the per-edge model.

``InteractionBlock(pair_ordered_edges=True)`` evaluates its radial MLP on the first half of
the edges only; ``GraphModel`` (eager, compiled) and exported models bring the caller's edge
list into pair order first and return per-edge fields in the caller's order.
"""

import copy

import pytest
import torch

from nequip.data import AtomicDataDict, from_ase, keys
from nequip.data.neighborlist import compute_neighborlist_
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper
from nequip.model.export import export_model, load_exported_model
from nequip.nn.interaction import InteractionBlock

OUTPUTS = (keys.TOTAL_ENERGY_KEY, keys.PER_ATOM_ENERGY_KEY, keys.FORCE_KEY, keys.STRESS_KEY)


def _frame(cuau_atoms, shuffle_seed=None):
    data = ChemicalSpeciesToAtomTypeMapper(["Cu", "Au"])(from_ase(cuau_atoms(repeat=(2, 2, 2), seed=3)))
    data = compute_neighborlist_(data, 4.0)
    if shuffle_seed is not None:
        perm = torch.randperm(data[keys.EDGE_INDEX_KEY].shape[1], generator=torch.Generator().manual_seed(shuffle_seed))
        data[keys.EDGE_INDEX_KEY] = data[keys.EDGE_INDEX_KEY][:, perm]
        data[keys.EDGE_CELL_SHIFT_KEY] = data[keys.EDGE_CELL_SHIFT_KEY][perm]
    return data


def _per_edge(model):
    """The same model computing its radial MLPs on every edge."""
    model = copy.deepcopy(model)
    for module in model.modules():
        if isinstance(module, InteractionBlock):
            module.pair_ordered_edges = False
    return model


def _assert_close(got, expected, tol=1e-10):
    for field in OUTPUTS:
        assert torch.allclose(got[field], expected[field], rtol=tol, atol=tol), field


def test_pair_ordered_model_matches_the_per_edge_model(cuau_model, cuau_atoms):
    model = cuau_model()
    assert model.orders_edges_in_pairs
    reference = _per_edge(model)(_frame(cuau_atoms))
    for seed in (None, 0, 1):
        frame = _frame(cuau_atoms, seed)
        out = model(dict(frame))
        _assert_close(out, reference)
        # per-edge fields in the caller's order
        assert out[keys.EDGE_INDEX_KEY] is frame[keys.EDGE_INDEX_KEY]
        lengths = AtomicDataDict.with_edge_vectors_(dict(frame))[keys.EDGE_LENGTH_KEY]
        assert torch.allclose(out[keys.EDGE_LENGTH_KEY], lengths, atol=1e-12)


def test_batches_are_paired_across_frames(cuau_model, cuau_atoms):
    """A batch collated from frames (each in pair order, the batch not) gives the per-frame numbers."""
    model = cuau_model()
    frames = [_frame(cuau_atoms), _frame(cuau_atoms, 2)]
    batch = AtomicDataDict.batched_from_list(frames)
    out = model(batch)
    for index, frame in enumerate(frames):
        single = model(dict(frame))
        assert torch.allclose(out[keys.TOTAL_ENERGY_KEY][index], single[keys.TOTAL_ENERGY_KEY][0], atol=1e-10)


def test_compiled_model_pairs_its_inputs(cuau_model, cuau_atoms):
    model = cuau_model(compile_mode="compile")
    model.compile_backend = "eager"  # the traced graph, without inductor's compile time
    reference = _per_edge(cuau_model())(_frame(cuau_atoms))
    for seed in (None, 0):
        out = model(_frame(cuau_atoms, seed))
        _assert_close(out, reference)
    assert model.compile_disabled_reason is None and len(model._variants) == 1


def test_exported_model_pairs_its_inputs(tmp_path, cuau_model, cuau_atoms):
    model = cuau_model()
    path = str(tmp_path / "model.pt2")
    assert export_model(model, path, mode="export")["pair_ordered_edges"] is True
    exported = load_exported_model(path)
    reference = model(_frame(cuau_atoms))
    for seed in (None, 0):
        _assert_close(exported(_frame(cuau_atoms, seed)), reference, tol=1e-9)
    frame = _frame(cuau_atoms)
    frame[keys.EDGE_INDEX_KEY] = frame[keys.EDGE_INDEX_KEY][:, 1:]
    frame[keys.EDGE_CELL_SHIFT_KEY] = frame[keys.EDGE_CELL_SHIFT_KEY][1:]
    with pytest.raises(ValueError, match="not a full neighbor list"):
        exported(frame)


def test_asymmetric_per_edge_type_cutoffs_run_per_edge(cuau_model, cuau_atoms):
    """With a cutoff of Cu->Au != Au->Cu the two directions of a pair differ: no pairing."""
    asymmetric = cuau_model(per_edge_type_cutoff={"Cu": 3.5, "Au": {"Cu": 3.0, "Au": 4.0}})
    assert not asymmetric.orders_edges_in_pairs
    assert cuau_model(per_edge_type_cutoff={"Cu": 3.5, "Au": {"Cu": 3.5, "Au": 4.0}}).orders_edges_in_pairs
    table = torch.tensor([[3.5, 3.5], [3.0, 4.0]], dtype=torch.float64)
    data = ChemicalSpeciesToAtomTypeMapper(["Cu", "Au"])(from_ase(cuau_atoms(repeat=(2, 2, 2), seed=3)))
    data = compute_neighborlist_(data, 4.0, per_edge_type_cutoff=table)  # not a symmetric list
    out = asymmetric(data)
    assert torch.isfinite(out[keys.TOTAL_ENERGY_KEY]).all()
