"""Unit tests of the statistics metrics, modifiers and the composition least-squares fit."""

import doctest

import numpy as np
import pytest
import torch

import nequip.data.stats.common
import nequip.data.stats.lstsq
import nequip.data.stats.manager
import nequip.data.stats.metrics
import nequip.data.stats.modifiers
from nequip.data import keys
from nequip.data.stats import (
    CompositionLeastSquares,
    Count,
    EdgeLengths,
    MappedFieldModifier,
    Max,
    Mean,
    MeanAbsolute,
    Min,
    NumNeighbors,
    PerAtomModifier,
    RootMeanSquare,
    StandardDeviation,
)


@pytest.mark.parametrize(
    "module",
    [
        nequip.data.stats.metrics,
        nequip.data.stats.lstsq,
        nequip.data.stats.modifiers,
        nequip.data.stats.manager,
        nequip.data.stats.common,
    ],
)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


def _chunks(x, sizes):
    out, start = [], 0
    for s in sizes:
        out.append(x[start : start + s])
        start += s
    return out


@pytest.mark.parametrize("sizes", [[50], [1] * 50, [7, 0, 13, 30], [49, 1]])
def test_metrics_match_numpy_for_any_chunking(sizes):
    rng = np.random.default_rng(0)
    x = rng.normal(loc=3.0, scale=2.0, size=(50, 3))
    metrics = {
        "mean": (Mean(), x.mean()),
        "mean_abs": (MeanAbsolute(), np.abs(x).mean()),
        "rms": (RootMeanSquare(), np.sqrt((x**2).mean())),
        "std": (StandardDeviation(), x.std(ddof=1)),
        "var_biased": (StandardDeviation(squared=True, unbiased=False), x.var()),
        "max": (Max(), x.max()),
        "absmax": (Max(abs=True), np.abs(x).max()),
        "min": (Min(), x.min()),
        "absmin": (Min(abs=True), np.abs(x).min()),
        "count": (Count(), x.size),
    }
    for chunk in _chunks(torch.from_numpy(x), sizes):
        for metric, _ in metrics.values():
            metric.update(chunk)
    for name, (metric, expected) in metrics.items():
        assert metric.compute().item() == pytest.approx(expected, rel=1e-13, abs=1e-13), name


def test_metrics_accumulate_in_float64():
    # float32 input: a float32 accumulator would lose the small offsets
    x = torch.full((1000,), 1e8, dtype=torch.float32)
    m = Mean()
    m.update(x)
    m.update(torch.ones(1000, dtype=torch.float32))
    assert m.compute().dtype == torch.float64
    assert m.compute().item() == (1e8 * 1000 + 1000) / 2000


def test_standard_deviation_merges_process_rows():
    """Under DDP the per-process (count, mean, M2) rows are gathered; compute() merges them."""
    rng = np.random.default_rng(1)
    parts = [rng.normal(size=n) * 5 + 100 for n in (3, 11, 1)]
    per_process = [StandardDeviation() for _ in parts]
    for m, p in zip(per_process, parts):
        m.update(torch.from_numpy(p))
    merged = StandardDeviation()
    merged.count = torch.cat([m.count for m in per_process])
    merged.mean = torch.cat([m.mean for m in per_process])
    merged.m2 = torch.cat([m.m2 for m in per_process])
    merged._update_count = 1
    assert merged.compute().item() == pytest.approx(np.concatenate(parts).std(ddof=1), rel=1e-13)


def test_standard_deviation_of_one_entry_is_nan():
    m = StandardDeviation()
    m.update(torch.tensor([2.0]))
    assert np.isnan(m.compute().item())


def test_per_atom_modifier():
    data = {
        keys.TOTAL_ENERGY_KEY: torch.tensor([[6.0], [-9.0]], dtype=torch.float64),
        keys.NUM_NODES_KEY: torch.tensor([2, 3]),
    }
    assert PerAtomModifier(keys.TOTAL_ENERGY_KEY)(data).flatten().tolist() == [3.0, -3.0]
    assert PerAtomModifier(keys.TOTAL_ENERGY_KEY, factor=2.0)(data).flatten().tolist() == [6.0, -6.0]
    assert str(PerAtomModifier(keys.TOTAL_ENERGY_KEY)) == "per_atom_E"
    with pytest.raises(ValueError, match="forces"):
        PerAtomModifier(keys.FORCE_KEY)


def test_num_neighbors_counts_centers_including_isolated_atoms():
    # atom 0 has no neighbors and comes first (a right-padded count would shift every atom)
    data = {
        keys.POSITIONS_KEY: torch.zeros(4, 3),
        keys.EDGE_INDEX_KEY: torch.tensor([[1, 1, 1, 2, 3], [2, 3, 2, 1, 1]]),
    }
    assert NumNeighbors()(data).tolist() == [0.0, 3.0, 1.0, 1.0]
    assert NumNeighbors().type == "node"


def test_edge_lengths_does_not_modify_input():
    data = {
        keys.POSITIONS_KEY: torch.tensor([[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]], dtype=torch.float64),
        keys.EDGE_INDEX_KEY: torch.tensor([[0, 1], [1, 0]]),
    }
    assert EdgeLengths()(data).tolist() == [5.0, 5.0]
    assert keys.EDGE_LENGTH_KEY not in data and EdgeLengths().type == "edge"


def test_mapped_field_modifier():
    mod = MappedFieldModifier(keys.PER_ATOM_ENERGY_KEY, keys.FORCE_KEY)
    pred = {keys.PER_ATOM_ENERGY_KEY: torch.ones(2, 1)}
    target = {keys.FORCE_KEY: torch.zeros(2, 3)}
    out_pred, out_target = mod(pred, target)
    assert out_pred is pred[keys.PER_ATOM_ENERGY_KEY] and out_target is target[keys.FORCE_KEY]
    with pytest.raises(ValueError, match="same kind"):
        MappedFieldModifier(keys.TOTAL_ENERGY_KEY, keys.FORCE_KEY)


# --- composition least squares -------------------------------------------------------


def _fit(counts, energies, type_names, batch=4):
    m = CompositionLeastSquares(type_names=type_names)
    counts, energies = torch.as_tensor(counts, dtype=torch.float64), torch.as_tensor(energies)
    for start in range(0, len(energies), batch):
        m.update(energies[start : start + batch], counts[start : start + batch])
    return m.compute().numpy()


def test_lstsq_recovers_known_per_type_energies():
    rng = np.random.default_rng(2)
    counts = rng.integers(0, 20, size=(30, 3)).astype(float)
    counts[:, 0] += 1
    e_true = np.array([-3.7, -1.2, -2000.4])
    for batch in (1, 7, 30):
        np.testing.assert_allclose(_fit(counts, counts @ e_true, ["A", "B", "C"], batch), e_true, rtol=1e-10)


def test_lstsq_matches_numpy_lstsq_with_noise():
    rng = np.random.default_rng(3)
    counts = rng.integers(1, 10, size=(20, 2)).astype(float)
    energies = counts @ np.array([-4.0, -1.0]) + rng.normal(scale=0.1, size=20)
    expected = np.linalg.lstsq(counts, energies, rcond=None)[0]
    np.testing.assert_allclose(_fit(counts, energies, ["A", "B"]), expected, rtol=1e-10)


def test_lstsq_single_stoichiometry_is_min_norm_deviation_from_mean():
    # every frame is A3B1 (different sizes): only the combination 3 e_A + e_B is determined
    rng = np.random.default_rng(4)
    k = np.array([1, 2, 2, 3, 5], dtype=float)
    counts = np.stack([3 * k, k], axis=1)
    energies = counts @ np.array([-2.0, -6.0]) + rng.normal(scale=0.05, size=5)
    with pytest.warns(UserWarning, match=r"rank 1 .*\['A', 'B'\] cannot be separated"):
        fitted = _fit(counts, energies, ["A", "B"])
    mu = np.mean(energies / counts.sum(axis=1))
    expected = mu + np.linalg.lstsq(counts, energies - mu * counts.sum(axis=1), rcond=None)[0]
    np.testing.assert_allclose(fitted, expected, rtol=1e-10)
    # it is still a least-squares solution: same residual as numpy's
    best = np.linalg.lstsq(counts, energies, rcond=None)[0]
    assert np.sum((counts @ fitted - energies) ** 2) == pytest.approx(np.sum((counts @ best - energies) ** 2))


def test_lstsq_single_stoichiometry_equal_sizes_gives_mean_per_atom_energy():
    counts = np.array([[6.0, 2.0]] * 4)
    energies = np.array([-20.0, -21.0, -19.5, -20.2])
    with pytest.warns(UserWarning, match="rank 1"):
        fitted = _fit(counts, energies, ["A", "B"])
    np.testing.assert_allclose(fitted, np.mean(energies / 8.0), rtol=1e-12)


def test_lstsq_names_only_the_inseparable_types():
    # A and B always come as A2B; C varies independently
    rng = np.random.default_rng(5)
    k, m = rng.integers(1, 6, size=12).astype(float), rng.integers(0, 6, size=12).astype(float)
    counts = np.stack([2 * k, k, m], axis=1)
    e = np.array([-1.0, -4.0, -7.5])
    with pytest.warns(UserWarning, match=r"rank 2 but 3 types .* types \['A', 'B'\] cannot"):
        fitted = _fit(counts, counts @ e, ["A", "B", "C"])
    assert fitted[2] == pytest.approx(-7.5, rel=1e-10)
    assert 2 * fitted[0] + fitted[1] == pytest.approx(2 * e[0] + e[1], rel=1e-10)


def test_lstsq_absent_type_gets_mean_per_atom_energy():
    rng = np.random.default_rng(6)
    counts = np.concatenate([rng.integers(1, 9, size=(10, 2)), np.zeros((10, 1))], axis=1)
    counts = counts[:, [0, 2, 1]]  # the absent type in the middle
    energies = counts @ np.array([-3.0, 99.0, -5.0])
    with pytest.warns(UserWarning, match=r"types \['X'\] never appear"):
        fitted = _fit(counts, energies, ["A", "X", "B"])
    np.testing.assert_allclose(fitted[[0, 2]], [-3.0, -5.0], rtol=1e-10)
    assert fitted[1] == pytest.approx(np.mean(energies / counts.sum(axis=1)), rel=1e-12)


def test_lstsq_validation():
    with pytest.raises(ValueError, match="rcond"):
        CompositionLeastSquares(rcond=2.0)
    m = CompositionLeastSquares(type_names=["A"])
    with pytest.raises(ValueError, match="type_names"):
        m.bind_type_names(["A", "B"])
    with pytest.raises(ValueError, match="counts has shape"):
        m.update(torch.zeros(3, dtype=torch.float64), torch.ones(3, 2))
