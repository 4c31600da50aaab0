"""Neighbor lists agree with ASE's primitive_neighbor_list edge by edge, for every backend."""

import ase
import ase.build
import numpy as np
import pytest
import torch
from ase.neighborlist import primitive_neighbor_list

from nequip.data import (
    DEFAULT_NEIGHBORLIST_BACKEND,
    AtomicDataDict,
    compute_neighborlist_,
    from_ase,
    keys,
    register_neighborlist_backend,
)
from nequip.data.neighborlist import _BACKENDS, _lexicographic_order, edge_pair_order, neighborlist_backend
from nequip.data.transforms import (
    ChemicalSpeciesToAtomTypeMapper,
    NeighborListPruneTransform,
    NeighborListTransform,
    SortedNeighborListTransform,
)

BACKENDS = ["vesin", "matscipy", "ase"]


def _random_cell(rng, triclinic):
    cell = np.diag(rng.uniform(4.0, 7.0, size=3))
    if triclinic:
        cell[1, 0] = rng.uniform(-2, 2)
        cell[2, :2] = rng.uniform(-2, 2, size=2)
    return cell


def _frames():
    rng = np.random.default_rng(0)
    frames = {}
    for name, pbc, triclinic in [
        ("periodic", [True, True, True], False),
        ("triclinic", [True, True, True], True),
        ("mixed", [True, False, True], True),
        ("slab", [True, True, False], False),
    ]:
        cell = _random_cell(rng, triclinic)
        positions = rng.uniform(0, 1, size=(12, 3)) @ cell
        frames[name] = ase.Atoms("Cu12", positions=positions, cell=cell, pbc=pbc)
    small = ase.build.bulk("Cu", "fcc", a=3.6)  # one atom, cell much smaller than the cutoff
    small.rattle(0.05, seed=1)
    frames["small_cell"] = small
    frames["small_triclinic"] = ase.Atoms(
        "CuAu", positions=[[0, 0, 0], [1.1, 0.9, 1.3]], cell=[[2.5, 0, 0], [1.0, 2.4, 0], [0.3, 0.7, 2.6]], pbc=True
    )
    frames["molecule"] = ase.build.molecule("CH3CH2OH")
    frames["molecule_in_box"] = ase.build.molecule("H2O", vacuum=2.0)
    return frames


FRAMES = _frames()


def _edge_set(i, j, shifts):
    return sorted(zip(i.tolist(), j.tolist(), map(tuple, np.asarray(shifts, dtype=int).tolist())))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", sorted(FRAMES))
@pytest.mark.parametrize("r_max", [2.6, 5.0])
def test_matches_ase(name, r_max, backend):
    """Every backend gives ASE's edges (as a set of (i, j, shift)) on periodic, mixed and molecular frames."""
    if backend == "matscipy":
        pytest.importorskip("matscipy", reason="the matscipy backend needs nequip-data[matscipy]")
    atoms = FRAMES[name]
    data = compute_neighborlist_(from_ase(atoms), r_max, backend=backend)
    i, j, shifts = primitive_neighbor_list(
        "ijS", atoms.pbc, atoms.cell.array, atoms.positions, r_max, self_interaction=False
    )
    ours = _edge_set(*data[keys.EDGE_INDEX_KEY].numpy(), data[keys.EDGE_CELL_SHIFT_KEY].numpy())
    assert ours == _edge_set(i, j, shifts)
    assert len(ours) > 0
    # the recorded shifts reproduce lengths within the cutoff
    lengths = AtomicDataDict.with_edge_vectors_(data)[keys.EDGE_LENGTH_KEY]
    assert (lengths <= r_max).all() and (lengths > 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_backends_write_pair_ordered_batches(backend):
    if backend == "matscipy":
        pytest.importorskip("matscipy", reason="the matscipy backend needs nequip-data[matscipy]")
    batch = AtomicDataDict.batched_from_list([from_ase(f) for f in FRAMES.values()])
    ours = compute_neighborlist_(dict(batch), 4.0, backend=backend)
    _assert_pair_order(ours[keys.EDGE_INDEX_KEY], ours[keys.EDGE_CELL_SHIFT_KEY])
    default = compute_neighborlist_(dict(batch), 4.0)
    assert _edge_set(*ours[keys.EDGE_INDEX_KEY].numpy(), ours[keys.EDGE_CELL_SHIFT_KEY].numpy()) == _edge_set(
        *default[keys.EDGE_INDEX_KEY].numpy(), default[keys.EDGE_CELL_SHIFT_KEY].numpy()
    )


def test_unknown_backend_lists_the_registered_ones():
    assert DEFAULT_NEIGHBORLIST_BACKEND == "vesin"
    message = r"unknown neighbor-list backend 'cuda_magic'; registered backends: \['ase', 'matscipy', 'vesin'\]"
    with pytest.raises(ValueError, match=message):
        compute_neighborlist_(from_ase(FRAMES["molecule"]), 3.0, backend="cuda_magic")
    with pytest.raises(ValueError, match=message):
        NeighborListTransform(3.0, backend="cuda_magic")
    with pytest.raises(ValueError, match="takes no backend_kwargs, got \\['n_threads'\\]"):
        compute_neighborlist_(from_ase(FRAMES["molecule"]), 3.0, backend_kwargs={"n_threads": 2})


def test_registered_backend_is_used_with_its_kwargs(monkeypatch):
    monkeypatch.setattr("nequip.data.neighborlist._BACKENDS", dict(_BACKENDS))
    calls = []

    def reversed_ase(data, r_max, reverse):
        calls.append((r_max, reverse))
        data = compute_neighborlist_(data, r_max, backend="ase")
        if reverse:  # a full list in another order: allowed for a registered backend
            data[keys.EDGE_INDEX_KEY] = data[keys.EDGE_INDEX_KEY].flip(1)
            data[keys.EDGE_CELL_SHIFT_KEY] = data[keys.EDGE_CELL_SHIFT_KEY].flip(0)
        return data

    register_neighborlist_backend("reversed", reversed_ase, supports_cuda=True)
    assert neighborlist_backend("reversed").supports_cuda
    with pytest.raises(ValueError, match="'reversed' is registered already; pass overwrite=True"):
        register_neighborlist_backend("reversed", reversed_ase)
    transform = NeighborListTransform(5.0, backend="reversed", backend_kwargs={"reverse": True})
    data = transform(from_ase(FRAMES["triclinic"]))
    assert calls == [(5.0, True)]
    reference = compute_neighborlist_(from_ase(FRAMES["triclinic"]), 5.0)
    assert _edge_set(*data[keys.EDGE_INDEX_KEY].numpy(), data[keys.EDGE_CELL_SHIFT_KEY].numpy()) == _edge_set(
        *reference[keys.EDGE_INDEX_KEY].numpy(), reference[keys.EDGE_CELL_SHIFT_KEY].numpy()
    )


def test_small_cell_has_several_images_of_the_same_atom():
    data = compute_neighborlist_(from_ase(FRAMES["small_cell"]), 5.0)
    edge_index = data[keys.EDGE_INDEX_KEY]
    assert (edge_index[0] == edge_index[1]).all()  # only one atom: every neighbor is an image of itself
    assert data[keys.EDGE_CELL_SHIFT_KEY].abs().sum(-1).gt(0).all()
    assert edge_index.shape[1] > 12


def test_batch_equals_frames():
    frames = [from_ase(FRAMES[n]) for n in ("triclinic", "molecule", "small_cell", "mixed")]
    batch = compute_neighborlist_(AtomicDataDict.batched_from_list(frames), 4.0)
    for idx, frame in enumerate(frames):
        single = compute_neighborlist_(dict(frame), 4.0)
        from_batch = AtomicDataDict.frame_from_batched(batch, idx)
        assert torch.equal(from_batch[keys.EDGE_INDEX_KEY], single[keys.EDGE_INDEX_KEY])
        assert torch.equal(from_batch[keys.EDGE_CELL_SHIFT_KEY], single[keys.EDGE_CELL_SHIFT_KEY])


def test_edge_vectors_follow_the_convention():
    atoms = FRAMES["triclinic"]
    data = AtomicDataDict.with_edge_vectors_(compute_neighborlist_(from_ase(atoms), 4.0))
    i, j = data[keys.EDGE_INDEX_KEY]
    shift = data[keys.EDGE_CELL_SHIFT_KEY].numpy()
    expected = atoms.positions[j] - atoms.positions[i] + shift @ atoms.cell.array
    np.testing.assert_allclose(data[keys.EDGE_VECTORS_KEY].numpy(), expected, atol=1e-12)
    assert data[keys.EDGE_VECTORS_KEY].dtype == torch.float64


def test_overlapping_atoms_name_the_frame_and_atoms():
    frames = [from_ase(FRAMES["molecule"]), from_ase(ase.Atoms("H3", positions=[[0, 0, 0], [1, 0, 0], [1, 0, 0]]))]
    batch = AtomicDataDict.batched_from_list(frames)
    batch[keys.FRAME_INDEX_KEY] = torch.tensor([7, 8])
    with pytest.raises(ValueError, match=r"frame 8: atoms [12] and [12] are at the same position"):
        compute_neighborlist_(batch, 3.0)


def test_periodic_direction_without_cell_is_an_error():
    atoms = ase.Atoms("H2", positions=[[0, 0, 0], [0.7, 0, 0]], cell=[[3, 0, 0], [0, 3, 0], [0, 0, 0]], pbc=True)
    with pytest.raises(ValueError, match=r"pbc is True along lattice vector\(s\) \[2\]"):
        compute_neighborlist_(from_ase(atoms), 3.0)


def test_r_max_must_be_positive():
    with pytest.raises(ValueError, match="r_max must be positive"):
        NeighborListTransform(r_max=0.0)


def test_per_edge_type_cutoff():
    atoms = FRAMES["molecule"]  # C2H6O
    type_names = ["C", "H", "O"]
    data = ChemicalSpeciesToAtomTypeMapper(type_names)(from_ase(atoms))
    cutoffs = {"H": 1.2, "C": {"H": 1.5, "O": 2.0}}
    pruned = NeighborListTransform(3.0, per_edge_type_cutoff=cutoffs, type_names=type_names)(dict(data))
    full = AtomicDataDict.with_edge_vectors_(NeighborListTransform(3.0)(dict(data)))
    table = {("H", t): 1.2 for t in type_names} | {("C", "H"): 1.5, ("C", "O"): 2.0}
    types = [type_names[t] for t in data[keys.ATOM_TYPE_KEY].tolist()]
    expected = [
        (int(a), int(b))
        for (a, b), length in zip(full[keys.EDGE_INDEX_KEY].T.tolist(), full[keys.EDGE_LENGTH_KEY].tolist())
        if length < table.get((types[a], types[b]), 3.0)
    ]
    assert sorted(map(tuple, pruned[keys.EDGE_INDEX_KEY].T.tolist())) == sorted(expected)
    assert len(expected) < full[keys.EDGE_INDEX_KEY].shape[1]


@pytest.mark.parametrize(
    "cutoffs, message",
    [({"N": 2.0}, "'N', which is not in type_names"), ({"C": {"H": 4.0}}, r"must be in \(0, r_max=3.0\]")],
)
def test_per_edge_type_cutoff_errors(cutoffs, message):
    with pytest.raises(ValueError, match=message):
        NeighborListTransform(3.0, per_edge_type_cutoff=cutoffs, type_names=["C", "H", "O"])


def _assert_pair_order(edge_index, shift):
    half = edge_index.shape[1] // 2
    assert edge_index.shape[1] == 2 * half
    assert torch.equal(edge_index[:, half:], edge_index[:, :half].flip(0))
    assert torch.equal(shift[half:], -shift[:half])


@pytest.mark.parametrize("name", sorted(FRAMES))
def test_lists_are_in_pair_order(name):
    """Edge e + E/2 is the reverse of edge e, for every kind of frame and for batches."""
    data = compute_neighborlist_(from_ase(FRAMES[name]), 5.0)
    _assert_pair_order(data[keys.EDGE_INDEX_KEY], data[keys.EDGE_CELL_SHIFT_KEY])
    assert edge_pair_order(data[keys.EDGE_INDEX_KEY], data[keys.EDGE_CELL_SHIFT_KEY]) is None
    assert not (data[keys.EDGE_CELL_SHIFT_KEY] == 0).logical_and(data[keys.EDGE_CELL_SHIFT_KEY].signbit()).any()
    batch = compute_neighborlist_(AtomicDataDict.batched_from_list([from_ase(f) for f in FRAMES.values()]), 4.0)
    assert edge_pair_order(batch[keys.EDGE_INDEX_KEY], batch[keys.EDGE_CELL_SHIFT_KEY]) is None


@pytest.mark.parametrize("name", ["triclinic", "small_cell", "molecule"])
def test_edge_pair_order_sorts_any_full_list(name):
    data = compute_neighborlist_(from_ase(FRAMES[name]), 5.0)
    edge_index, shift = data[keys.EDGE_INDEX_KEY], data[keys.EDGE_CELL_SHIFT_KEY]
    shuffle = torch.randperm(edge_index.shape[1], generator=torch.Generator().manual_seed(0))
    edge_index, shift = edge_index[:, shuffle], shift[shuffle]
    order = edge_pair_order(edge_index, shift)
    assert sorted(order.tolist()) == list(range(edge_index.shape[1]))
    _assert_pair_order(edge_index[:, order], shift[order])
    if name == "molecule":  # no shifts: None means zero shifts
        assert torch.equal(edge_pair_order(edge_index), order)


@pytest.mark.parametrize("largest", [5, 2**60])  # one int64 key; a key too wide for int64: stable sorts
def test_lexicographic_order_sorts_rows_by_columns_in_turn(largest):
    generator = torch.Generator().manual_seed(0)
    columns = [torch.randint(-3, 4, (500,), generator=generator) for _ in range(3)]
    columns.insert(0, torch.randint(0, largest, (500,), generator=generator))
    rows = list(zip(*(column.tolist() for column in columns), range(500)))
    order = _lexicographic_order(columns)
    assert [rows[i][:4] for i in order.tolist()] == [row[:4] for row in sorted(rows)]


@pytest.mark.parametrize(
    "edges, shifts, message",
    [
        ([[0, 1, 1], [1, 0, 2]], None, r"edge 2 \(1 -> 2, shift \[0, 0, 0\]\) has no reverse"),
        ([[0, 1, 1, 2], [1, 0, 2, 0]], None, r"edge 3 \(2 -> 0, shift \[0, 0, 0\]\) has no reverse"),
        ([[0, 0], [0, 0]], [[1, 0, 0], [1, 0, 0]], r"edge 0 \(0 -> 0, shift \[1, 0, 0\]\) has no reverse"),
        ([[0, 1, 0, 1], [1, 0, 1, 0]], None, r"edge 0 \(0 -> 1, shift \[0, 0, 0\]\) has no reverse"),  # duplicates
        ([[0, 0, 1], [1, 0, 0]], None, r"edge 1 \(0 -> 0, shift \[0, 0, 0\]\) has no reverse"),  # self edge, zero shift
    ],
)
def test_edge_pair_order_errors(edges, shifts, message):
    shifts = None if shifts is None else torch.tensor(shifts, dtype=torch.float64)
    with pytest.raises(ValueError, match="not a full neighbor list: " + message):
        edge_pair_order(torch.tensor(edges), shifts)


def test_prune_transform_equals_the_per_edge_type_cutoff_of_the_list():
    type_names = ["C", "H", "O"]
    cutoffs = {"H": 1.2, "C": {"H": 1.5, "O": 2.0}}
    data = ChemicalSpeciesToAtomTypeMapper(type_names)(from_ase(FRAMES["molecule"]))
    at_once = NeighborListTransform(3.0, per_edge_type_cutoff=cutoffs, type_names=type_names)(dict(data))
    full = NeighborListTransform(3.0)(dict(data))
    full[keys.EDGE_LENGTH_KEY] = AtomicDataDict.with_edge_vectors_(dict(full))[keys.EDGE_LENGTH_KEY]
    pruned = NeighborListPruneTransform(3.0, per_edge_type_cutoff=cutoffs, type_names=type_names)(full)
    assert torch.equal(pruned[keys.EDGE_INDEX_KEY], at_once[keys.EDGE_INDEX_KEY])
    assert pruned[keys.EDGE_LENGTH_KEY].shape[0] == pruned[keys.EDGE_INDEX_KEY].shape[1]  # edge fields pruned too
    assert torch.allclose(
        pruned[keys.EDGE_LENGTH_KEY], AtomicDataDict.with_edge_vectors_(dict(at_once))[keys.EDGE_LENGTH_KEY]
    )
    with pytest.raises(KeyError, match="per-edge-type cutoffs need 'atom_types'"):
        NeighborListPruneTransform(3.0, per_edge_type_cutoff=cutoffs, type_names=type_names)(
            NeighborListTransform(3.0)(from_ase(FRAMES["molecule"]))
        )


@pytest.mark.parametrize("name", ["triclinic", "small_cell", "molecule"])
def test_sorted_neighbor_list(name):
    data = SortedNeighborListTransform(4.0)(from_ase(FRAMES[name]))
    edge_index, shift = data[keys.EDGE_INDEX_KEY], data[keys.EDGE_CELL_SHIFT_KEY]
    reference = compute_neighborlist_(from_ase(FRAMES[name]), 4.0)
    assert _edge_set(*edge_index.numpy(), shift.numpy()) == _edge_set(
        *reference[keys.EDGE_INDEX_KEY].numpy(), reference[keys.EDGE_CELL_SHIFT_KEY].numpy()
    )
    pairs = edge_index.T.tolist()
    assert pairs == sorted(pairs)  # sorted by (center, neighbor)
    perm = data[keys.EDGE_TRANSPOSE_PERM_KEY]
    assert sorted(perm.tolist()) == list(range(edge_index.shape[1]))
    transposed = edge_index[:, perm].flip(0).T.tolist()
    assert transposed == sorted(transposed)  # sorted by (neighbor, center)


def test_a_batch_of_pair_ordered_frames_is_pair_ordered():
    frames = [compute_neighborlist_(from_ase(FRAMES[name]), 5.0) for name in ("triclinic", "molecule", "mixed")]
    for frame in frames:  # an edge-number field too, renumbered by the batching
        edge_index = frame[keys.EDGE_INDEX_KEY]
        frame[keys.EDGE_TRANSPOSE_PERM_KEY] = torch.sort(edge_index[1] * 1000 + edge_index[0], stable=True).indices
    batch = AtomicDataDict.batched_from_list(frames)
    _assert_pair_order(batch[keys.EDGE_INDEX_KEY], batch[keys.EDGE_CELL_SHIFT_KEY])
    edge_index, perm = batch[keys.EDGE_INDEX_KEY], batch[keys.EDGE_TRANSPOSE_PERM_KEY]
    keys_jt = (edge_index[1] * AtomicDataDict.num_nodes(batch) + edge_index[0])[perm]
    assert torch.equal(keys_jt, keys_jt.sort().values)
    for index, frame in enumerate(frames):
        back = AtomicDataDict.frame_from_batched(batch, index)
        for field in (keys.EDGE_INDEX_KEY, keys.EDGE_CELL_SHIFT_KEY, keys.EDGE_TRANSPOSE_PERM_KEY):
            assert torch.equal(back[field], frame[field]), field
    # one input not in pair order: plain concatenation
    shuffled = AtomicDataDict.permute_edges_(dict(frames[0]), torch.randperm(frames[0][keys.EDGE_INDEX_KEY].shape[1]))
    mixed = AtomicDataDict.batched_from_list([shuffled, frames[1]])
    num_shuffled = shuffled[keys.EDGE_INDEX_KEY].shape[1]
    assert torch.equal(mixed[keys.EDGE_INDEX_KEY][:, :num_shuffled], shuffled[keys.EDGE_INDEX_KEY])


def test_transpose_permutation_survives_batching_and_unbatching():
    frames = [SortedNeighborListTransform(4.0)(from_ase(FRAMES[name])) for name in ("triclinic", "molecule", "mixed")]
    batch = AtomicDataDict.batched_from_list(frames)
    edge_index, perm = batch[keys.EDGE_INDEX_KEY], batch[keys.EDGE_TRANSPOSE_PERM_KEY]
    keys_jt = (edge_index[1] * AtomicDataDict.num_nodes(batch) + edge_index[0])[perm]
    assert torch.equal(keys_jt, keys_jt.sort().values)  # the batch's edges sorted by (neighbor, center)
    for idx, frame in enumerate(frames):
        assert torch.equal(
            AtomicDataDict.frame_from_batched(batch, idx)[keys.EDGE_TRANSPOSE_PERM_KEY],
            frame[keys.EDGE_TRANSPOSE_PERM_KEY],
        )
    # pruning keeps a valid permutation of the kept edges
    type_names = ["Cu", "C", "H", "O"]
    typed = SortedNeighborListTransform(4.0)(ChemicalSpeciesToAtomTypeMapper(type_names)(from_ase(FRAMES["molecule"])))
    pruned = NeighborListPruneTransform(4.0, per_edge_type_cutoff={"H": 1.5}, type_names=type_names)(typed)
    edge_index, perm = pruned[keys.EDGE_INDEX_KEY], pruned[keys.EDGE_TRANSPOSE_PERM_KEY]
    assert sorted(perm.tolist()) == list(range(edge_index.shape[1]))
    transposed = edge_index[:, perm].flip(0).T.tolist()
    assert transposed == sorted(transposed)
