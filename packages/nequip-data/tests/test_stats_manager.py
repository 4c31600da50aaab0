"""Statistics managers against direct numpy computations on ASE EMT frames."""

import ase
import ase.build
import numpy as np
import pytest
import torch
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.neighborlist import neighbor_list

import nequip.data
from nequip.data import AtomicDataDict, keys
from nequip.data.stats import MissingFieldError
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

R_MAX = 4.0
# "Ag" is a model type that never occurs in the data; it sits between the two that do
TYPE_NAMES = ["Cu", "Ag", "Au"]


def _emt_frames():
    rng = np.random.default_rng(0)
    frames = []
    for n_au, reps in [(0, 2), (3, 2), (8, 2), (5, (2, 2, 1)), (12, 2), (1, (2, 2, 1))]:
        atoms = ase.build.bulk("Cu", "fcc", a=3.6, cubic=True).repeat(reps)
        atoms.numbers[rng.choice(len(atoms), size=n_au, replace=False)] = 79
        atoms.rattle(stdev=0.08, seed=int(rng.integers(1 << 30)))
        frames.append(atoms)
    # non-periodic: an isolated Au atom (no neighbors) first, then a Cu-Au-Cu cluster
    cluster = ase.Atoms("AuCuAuCu", positions=[[-9, 0, 0], [0, 0, 0], [2.5, 0.1, 0], [1.2, 2.2, 0.1]])
    frames.append(cluster)
    for atoms in frames:
        atoms.calc = EMT()
        atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy(), forces=atoms.get_forces())
    return frames


ATOMS = _emt_frames()


def _to_data(atoms_list, with_forces=True):
    mapper, nl = ChemicalSpeciesToAtomTypeMapper(TYPE_NAMES), NeighborListTransform(R_MAX)
    out = []
    for atoms in atoms_list:
        data = nl(mapper(nequip.data.from_ase(atoms)))
        if not with_forces:
            data.pop(keys.FORCE_KEY)
        out.append(data)
    return out


FRAMES = _to_data(ATOMS)


def _batches(frames, batch_size):
    return [AtomicDataDict.batched_from_list(frames[i : i + batch_size]) for i in range(0, len(frames), batch_size)]


def _reference():
    """Every statistic computed directly with numpy (and ASE's own neighbor list)."""
    symbols = np.concatenate([a.get_chemical_symbols() for a in ATOMS])
    n_neigh = np.concatenate([np.bincount(neighbor_list("i", a, R_MAX), minlength=len(a)) for a in ATOMS])
    forces = np.concatenate([a.get_forces() for a in ATOMS])
    energy = np.array([a.get_potential_energy() for a in ATOMS])
    n_atoms = np.array([len(a) for a in ATOMS])
    counts = np.array([[np.sum(np.array(a.get_chemical_symbols()) == t) for t in ("Cu", "Au")] for a in ATOMS])
    e_cu, e_au = np.linalg.lstsq(counts, energy, rcond=None)[0]
    per_type = lambda values, reduce: {t: reduce(values[symbols == t]) for t in ("Cu", "Au")}  # noqa: E731
    return {
        "num_neighbors_mean": n_neigh.mean(),
        "per_type_num_neighbors_mean": per_type(n_neigh, np.mean),
        "per_atom_energy_mean": np.mean(energy / n_atoms),
        "forces_rms": np.sqrt(np.mean(forces**2)),
        "per_type_forces_rms": per_type(forces, lambda f: np.sqrt(np.mean(f**2))),
        "total_energy_std": np.std(energy, ddof=1),
        "per_atom_energy_std": np.std(energy / n_atoms, ddof=1),
        "per_type_atom_energy_lstsq": {"Cu": e_cu, "Au": e_au},
    }


REF = _reference()


def _check(stats, name):
    expected = REF[name]
    if isinstance(expected, dict):
        assert list(stats[name]) == TYPE_NAMES, name
        for t, v in expected.items():
            assert stats[name][t] == pytest.approx(v, rel=1e-11), (name, t)
            assert stats[f"{name}_{t}"] == stats[name][t]
            assert isinstance(stats[name][t], float)
    else:
        assert isinstance(stats[name], float)
        assert stats[name] == pytest.approx(expected, rel=1e-12), name


def _quiet(manager, source):
    with pytest.warns(UserWarning, match=r"\['Ag'\] never appear"):
        return manager.get_statistics(source)


@pytest.mark.parametrize("batch_size", [1, 2, 5, len(FRAMES)])
def test_common_manager_matches_numpy(batch_size):
    manager = nequip.data.CommonDataStatisticsManager(type_names=TYPE_NAMES)
    stats = _quiet(manager, _batches(FRAMES, batch_size))
    for name in ("num_neighbors_mean", "per_type_num_neighbors_mean", "per_atom_energy_mean", "forces_rms"):
        _check(stats, name)
    _check(stats, "per_type_forces_rms")
    _check(stats, "per_type_atom_energy_lstsq")
    # type in type_names but not in the data
    assert np.isnan(stats["per_type_num_neighbors_mean"]["Ag"]) and np.isnan(stats["per_type_forces_rms"]["Ag"])
    assert stats["per_type_atom_energy_lstsq"]["Ag"] == pytest.approx(REF["per_atom_energy_mean"], rel=1e-12)
    assert manager.stats_dict is stats and manager.statistic("forces_rms") == stats["forces_rms"]


@pytest.mark.parametrize("batch_size", [1, 2, 5, len(FRAMES)])
def test_energy_only_manager_on_frames_without_forces(batch_size):
    frames = _to_data(ATOMS, with_forces=False)
    manager = nequip.data.EnergyOnlyDataStatisticsManager(type_names=TYPE_NAMES)
    stats = _quiet(manager, _batches(frames, batch_size))
    for name in (
        "num_neighbors_mean",
        "per_type_num_neighbors_mean",
        "per_atom_energy_mean",
        "total_energy_std",
        "per_atom_energy_std",
        "per_type_atom_energy_lstsq",
    ):
        _check(stats, name)


def test_dataset_statistics_with_dataloader_kwargs():
    manager = nequip.data.CommonDataStatisticsManager(dataloader_kwargs={"batch_size": 3}, type_names=TYPE_NAMES)
    assert len(list(manager.dataloader(FRAMES))) == 3
    with pytest.warns(UserWarning, match="never appear"):
        stats = manager.get_dataset_statistics(FRAMES)
    _check(stats, "per_type_forces_rms")
    # computing again starts from scratch
    with pytest.warns(UserWarning, match="never appear"):
        again = manager.get_dataset_statistics(FRAMES)
    assert again["forces_rms"] == stats["forces_rms"]


def test_custom_config_as_in_the_docs():
    # the config of the brief, with its targets instantiated as hydra would
    manager = nequip.data.DataStatisticsManager(
        type_names=TYPE_NAMES,
        metrics=[
            {"name": "num_neighbors_mean", "field": nequip.data.NumNeighbors(), "metric": nequip.data.Mean()},
            {
                "name": "per_atom_energy_mean",
                "field": nequip.data.PerAtomModifier(field="total_energy"),
                "metric": nequip.data.Mean(),
            },
            {
                "name": "per_type_forces_rms",
                "field": "forces",
                "metric": nequip.data.RootMeanSquare(),
                "per_type": True,
            },
            {"name": "max_force", "field": "forces", "metric": nequip.data.Max(abs=True)},
            {"name": "n_force_components", "field": "forces", "metric": nequip.data.Count()},
        ],
    )
    stats = manager.get_statistics(_batches(FRAMES, 4))
    for name in ("num_neighbors_mean", "per_atom_energy_mean", "per_type_forces_rms"):
        _check(stats, name)
    all_forces = np.concatenate([a.get_forces() for a in ATOMS])
    assert stats["max_force"] == pytest.approx(np.abs(all_forces).max(), rel=1e-15)
    assert stats["n_force_components"] == all_forces.size


def test_per_type_pair_edge_lengths():
    manager = nequip.data.DataStatisticsManager(
        [{"field": nequip.data.EdgeLengths(), "metric": nequip.data.Mean(), "per_type": True}],
        type_names=TYPE_NAMES,
    )
    stats = manager.get_statistics(_batches(FRAMES, 3))
    name = "per_type_edge_lengths_mean"
    i = np.concatenate([np.array(a.get_chemical_symbols())[neighbor_list("i", a, R_MAX)] for a in ATOMS])
    j = np.concatenate([np.array(a.get_chemical_symbols())[neighbor_list("j", a, R_MAX)] for a in ATOMS])
    d = np.concatenate([neighbor_list("d", a, R_MAX) for a in ATOMS])
    for a in ("Cu", "Au"):
        for b in ("Cu", "Au"):
            assert stats[name][f"{a}_{b}"] == pytest.approx(d[(i == a) & (j == b)].mean(), rel=1e-12)
            assert stats[f"{name}_{a}{b}"] == stats[name][f"{a}_{b}"]
    assert np.isnan(stats[name]["Ag_Cu"])


def test_missing_field_names_field_and_frame():
    frames = [dict(f) for f in FRAMES[:4]]
    for idx, f in enumerate(frames):
        f[keys.FRAME_INDEX_KEY] = torch.tensor([10 + idx])
    del frames[3][keys.FORCE_KEY]
    frames[2].pop(keys.FORCE_KEY)
    manager = nequip.data.CommonDataStatisticsManager(type_names=TYPE_NAMES)
    # frames 12 and 13 lack forces; batches of two: the second batch is [12, 13]
    with pytest.raises(KeyError, match=r"'forces'.*frame\(s\) \[12, 13\].*fields present: \[") as err:
        manager.get_statistics(_batches(frames[:2], 2) + _batches(frames[2:], 2))
    assert isinstance(err.value, MissingFieldError) and keys.TOTAL_ENERGY_KEY in str(err.value)
    # without frame_index: the batch index
    for f in frames:
        f.pop(keys.FRAME_INDEX_KEY)
    with pytest.raises(KeyError, match=r"'forces'.*batch 2 of the data source"):
        manager.get_statistics(frames)


def test_missing_neighbor_list_is_explained():
    frame = nequip.data.from_ase(ATOMS[0])
    manager = nequip.data.DataStatisticsManager([{"field": nequip.data.NumNeighbors(), "metric": nequip.data.Mean()}])
    with pytest.raises(KeyError, match="edge_index.*NeighborListTransform"):
        manager.get_statistics([frame])


def _nan_frames():
    frames = [dict(f) for f in FRAMES[:3]]
    forces = frames[1][keys.FORCE_KEY].clone()
    forces[[0, 5], 1] = float("nan")
    frames[1][keys.FORCE_KEY] = forces
    return frames


def test_ignore_nan():
    frames = _nan_frames()
    metric = {"name": "f_mean", "field": keys.FORCE_KEY, "metric": nequip.data.Mean()}
    with pytest.raises(ValueError, match="NaN.*ignore_nan"):
        nequip.data.DataStatisticsManager([metric]).get_statistics(frames)
    manager = nequip.data.DataStatisticsManager(
        [
            {**metric, "metric": nequip.data.Mean(), "ignore_nan": True},
            {
                "name": "f_rms",
                "field": keys.FORCE_KEY,
                "metric": nequip.data.RootMeanSquare(),
                "ignore_nan": True,
                "per_type": True,
            },
        ],
        type_names=TYPE_NAMES,
    )
    stats = manager.get_statistics(_batches(frames, 2))
    forces = torch.cat([f[keys.FORCE_KEY] for f in frames]).numpy()
    types = torch.cat([f[keys.ATOM_TYPE_KEY] for f in frames]).numpy()
    assert stats["f_mean"] == pytest.approx(np.nanmean(forces), rel=1e-12)
    au = forces[types == 2]
    assert stats["f_rms"]["Au"] == pytest.approx(np.sqrt(np.nanmean(au**2)), rel=1e-12)
    assert stats["f_rms"]["Cu"] == pytest.approx(np.sqrt(np.nanmean(forces[types == 0] ** 2)), rel=1e-12)
    # a missing field is still an error
    del frames[2][keys.FORCE_KEY]
    with pytest.raises(KeyError, match="forces"):
        manager.get_statistics(frames)


def test_ignore_nan_drops_frames_from_lstsq():
    frames = [dict(f) for f in FRAMES]
    frames[2][keys.TOTAL_ENERGY_KEY] = torch.tensor([[float("nan")]], dtype=torch.float64)
    manager = nequip.data.DataStatisticsManager(
        [
            {
                "name": "e",
                "field": keys.TOTAL_ENERGY_KEY,
                "metric": nequip.data.CompositionLeastSquares(),
                "ignore_nan": True,
            }
        ],
        type_names=["Cu", "Au"],
    )
    frames = [ChemicalSpeciesToAtomTypeMapper(["Cu", "Au"])(f) for f in frames]
    stats = manager.get_statistics(_batches(frames, 3))
    keep = [k for k in range(len(ATOMS)) if k != 2]
    counts = np.array([[np.sum(ATOMS[k].numbers == z) for z in (29, 79)] for k in keep])
    energy = np.array([ATOMS[k].get_potential_energy() for k in keep])
    expected = np.linalg.lstsq(counts, energy, rcond=None)[0]
    assert [stats["e"]["Cu"], stats["e"]["Au"]] == pytest.approx(expected, rel=1e-11)


def test_lookup_statistic_lists_available_names():
    stats = {"forces_rms": 1.0, "num_neighbors_mean": 12.0}
    assert nequip.data.lookup_statistic(stats, "forces_rms") == 1.0
    with pytest.raises(KeyError, match=r"'per_atom_energy_mean'.*\['forces_rms', 'num_neighbors_mean'\]"):
        nequip.data.lookup_statistic(stats, "per_atom_energy_mean")
    manager = nequip.data.DataStatisticsManager([{"field": keys.FORCE_KEY, "metric": nequip.data.Mean()}])
    manager.get_statistics(FRAMES[:1])
    with pytest.raises(KeyError, match=r"available statistics: \['F_mean'\]"):
        manager.statistic("forces_rms")


def test_validation_errors():
    mean = nequip.data.Mean
    with pytest.raises(ValueError, match="type_names"):
        nequip.data.DataStatisticsManager([{"field": keys.FORCE_KEY, "metric": mean(), "per_type": True}])
    with pytest.raises(ValueError, match=r"repeated: \['a'\]"):
        nequip.data.DataStatisticsManager(
            [
                {"name": "a", "field": keys.FORCE_KEY, "metric": mean()},
                {"name": "a", "field": keys.POSITIONS_KEY, "metric": mean()},
            ]
        )
    with pytest.raises(ValueError, match="per_type needs a node or edge field.*graph"):
        nequip.data.DataStatisticsManager(
            [{"field": keys.TOTAL_ENERGY_KEY, "metric": mean(), "per_type": True}], type_names=["Cu"]
        )
    with pytest.raises(ValueError, match="per-frame"):
        nequip.data.DataStatisticsManager(
            [{"field": keys.FORCE_KEY, "metric": nequip.data.CompositionLeastSquares()}], type_names=["Cu"]
        )
    with pytest.raises(ValueError, match="unknown keys"):
        nequip.data.DataStatisticsManager([{"field": keys.FORCE_KEY, "metric": mean(), "per_typ": True}])
    with pytest.raises(ValueError, match="torchmetrics.Metric"):
        nequip.data.DataStatisticsManager([{"field": keys.FORCE_KEY, "metric": "mean"}])
    with pytest.raises(ValueError, match="collate_fn"):
        nequip.data.DataStatisticsManager(
            [{"field": keys.FORCE_KEY, "metric": mean()}], dataloader_kwargs={"collate_fn": list}
        )
    with pytest.raises(ValueError, match="non-empty list"):
        nequip.data.DataStatisticsManager([])
    with pytest.raises(ValueError, match="type_names"):
        nequip.data.CommonDataStatisticsManager()
    with pytest.raises(ValueError, match="empty"):
        nequip.data.DataStatisticsManager([{"field": keys.FORCE_KEY, "metric": mean()}]).get_statistics([])


def test_atom_types_outside_type_names_is_an_error():
    manager = nequip.data.DataStatisticsManager(
        [{"field": keys.FORCE_KEY, "metric": nequip.data.Mean(), "per_type": True}], type_names=["Cu", "Au"]
    )
    with pytest.raises(ValueError, match=r"atom_types \[0, 2\] outside 0..1"):
        manager.get_statistics(FRAMES[1:2])


def test_single_type():
    mapper, nl = ChemicalSpeciesToAtomTypeMapper(["Cu"]), NeighborListTransform(R_MAX)
    cu_only = [atoms for atoms in ATOMS if set(atoms.get_chemical_symbols()) == {"Cu"}]
    frames = [nl(mapper(nequip.data.from_ase(atoms))) for atoms in cu_only]
    stats = nequip.data.CommonDataStatisticsManager(type_names=["Cu"]).get_statistics(frames)
    per_atom = [atoms.get_potential_energy() / len(atoms) for atoms in cu_only]
    assert stats["per_type_atom_energy_lstsq"]["Cu"] == pytest.approx(np.mean(per_atom), rel=1e-12)
    forces = np.concatenate([atoms.get_forces() for atoms in cu_only])
    assert stats["per_type_forces_rms"] == {"Cu": pytest.approx(np.sqrt(np.mean(forces**2)), rel=1e-12)}
