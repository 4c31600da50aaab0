"""Metrics and MetricsManager: epoch values, coefficients, per-type metrics, NaN targets, presets."""

import math

import pytest
import torch

from nequip.data import PerAtomModifier, keys
from nequip.train import (
    EnergyForceLoss,
    EnergyForceMetrics,
    EnergyForceStressMetrics,
    EnergyOnlyLoss,
    EnergyOnlyMetrics,
    MaximumAbsoluteError,
    MeanAbsoluteError,
    MeanSquaredError,
    MetricsManager,
    RootMeanSquaredError,
)


def _batch(num_atoms, seed, types=None):
    gen = torch.Generator().manual_seed(seed)
    n = sum(num_atoms)
    data = {
        keys.NUM_NODES_KEY: torch.tensor(num_atoms),
        keys.BATCH_KEY: torch.repeat_interleave(torch.arange(len(num_atoms)), torch.tensor(num_atoms)),
        keys.TOTAL_ENERGY_KEY: torch.randn(len(num_atoms), 1, generator=gen, dtype=torch.float64),
        keys.FORCE_KEY: torch.randn(n, 3, generator=gen, dtype=torch.float64),
        keys.STRESS_KEY: torch.randn(len(num_atoms), 3, 3, generator=gen, dtype=torch.float64),
        keys.ATOM_TYPE_KEY: torch.randint(0, 2, (n,), generator=gen) if types is None else types,
        keys.POSITIONS_KEY: torch.zeros(n, 3, dtype=torch.float64),
    }
    return data


def _concat(parts):
    from nequip.data import AtomicDataDict

    return AtomicDataDict.batched_from_list(parts)


def test_metric_values_against_formulas():
    pred, target = torch.tensor([1.0, -2.0, 4.0]), torch.tensor([0.0, 0.0, 1.0])
    assert float(MeanAbsoluteError()(pred, target)) == pytest.approx(2.0)
    assert float(MeanSquaredError()(pred, target)) == pytest.approx(14.0 / 3)
    assert float(RootMeanSquaredError()(pred, target)) == pytest.approx(math.sqrt(14.0 / 3))
    assert float(MaximumAbsoluteError()(pred, target)) == pytest.approx(3.0)


def test_loss_is_differentiable_and_accumulates_without_graph():
    pred = torch.tensor([1.0, 2.0], requires_grad=True)
    metric = MeanSquaredError()
    value = metric(pred, torch.zeros(2))
    value.backward()
    assert torch.allclose(pred.grad, torch.tensor([1.0, 2.0]))
    assert not metric.error_sum.requires_grad


@pytest.mark.parametrize("builder", [EnergyForceMetrics, EnergyForceLoss])
def test_epoch_values_do_not_depend_on_batch_size(builder):
    frames = [_batch([n], seed=n) for n in (2, 3, 5, 4)]
    preds = [_batch([n], seed=100 + n, types=f[keys.ATOM_TYPE_KEY]) for n, f in zip((2, 3, 5, 4), frames)]
    results = []
    for batch_size in (1, 2, 4):
        manager = builder()
        for i in range(0, 4, batch_size):
            manager(_concat(preds[i : i + batch_size]), _concat(frames[i : i + batch_size]))
        results.append({k: float(v) for k, v in manager.compute().items()})
    for other in results[1:]:
        assert other.keys() == results[0].keys()
        for name in other:
            assert other[name] == pytest.approx(results[0][name], rel=1e-12), name


def test_forces_mae_epoch_value_is_mean_over_all_components():
    frames = [_batch([2], 0), _batch([6], 1)]
    preds = [_batch([2], 2), _batch([6], 3)]
    manager = EnergyForceMetrics()
    for p, t in zip(preds, frames):
        manager(p, t)
    expected = torch.cat(
        [(p[keys.FORCE_KEY] - t[keys.FORCE_KEY]).abs().flatten() for p, t in zip(preds, frames)]
    ).mean()
    assert float(manager.compute()["forces_mae"]) == pytest.approx(float(expected))


def test_coefficients_are_normalized_and_weighted_sum():
    manager = EnergyForceMetrics(coeffs={"total_energy_mae": 3.0, "forces_mae": 1.0})
    assert manager.coeffs["total_energy_mae"] == pytest.approx(0.75)
    assert manager.coeffs["forces_mae"] == pytest.approx(0.25)
    assert manager.coeffs["forces_rmse"] is None
    out = manager(_batch([3], 1), _batch([3], 2))
    expected = 0.75 * out["total_energy_mae"] + 0.25 * out["forces_mae"]
    assert float(out["weighted_sum"]) == pytest.approx(float(expected))
    epoch = manager.compute(prefix="val0_epoch/")
    assert "val0_epoch/weighted_sum" in epoch and "val0_epoch/per_atom_energy_mae" in epoch


def test_upstream_metric_names():
    assert EnergyForceLoss().names == ["per_atom_energy_mse", "forces_mse"]
    assert EnergyForceLoss(per_atom_energy=False).names == ["total_energy_mse", "forces_mse"]
    assert EnergyOnlyLoss().names == ["per_atom_energy_mse"]
    names = EnergyForceStressMetrics().names
    for expected in ("total_energy_rmse", "per_atom_energy_mae", "forces_maxabserr", "stress_mae"):
        assert expected in names
    assert set(EnergyOnlyMetrics().names) == {
        f"{q}_{e}" for q in ("total_energy", "per_atom_energy") for e in ("rmse", "mae", "maxabserr")
    }


def test_per_type_metrics_and_nan_targets():
    types = torch.tensor([0, 0, 1, 1])
    target = _batch([4], 0, types=types)
    target[keys.FORCE_KEY][1] = float("nan")
    pred = _batch([4], 1, types=types)
    manager = MetricsManager(
        [{"field": keys.FORCE_KEY, "metric": MeanAbsoluteError(), "per_type": True, "ignore_nan": True, "coeff": 1.0}],
        type_names=["Cu", "Au"],
    )
    manager(pred, target)
    out = manager.compute()
    err = (pred[keys.FORCE_KEY] - target[keys.FORCE_KEY]).abs()
    cu = torch.cat([err[0], err[1][~torch.isnan(err[1])]]).mean()
    au = err[2:].mean()
    assert float(out["forces_mae_Cu"]) == pytest.approx(float(cu))
    assert float(out["forces_mae_Au"]) == pytest.approx(float(au))
    assert float(out["forces_mae"]) == pytest.approx(float((cu + au) / 2))
    assert not math.isnan(float(out["weighted_sum"]))


def test_per_atom_energy_modifier_entry():
    manager = MetricsManager([{"field": PerAtomModifier(keys.TOTAL_ENERGY_KEY), "metric": MeanAbsoluteError()}])
    assert manager.names == ["per_atom_energy_mae"]
    assert manager.required_fields == [keys.TOTAL_ENERGY_KEY]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"metrics": []}, "non-empty list"),
        ({"metrics": [{"field": "forces"}]}, "needs a 'metric'"),
        ({"metrics": [{"field": "forces", "metric": MeanAbsoluteError(), "bogus": 1}]}, "unknown keys"),
        ({"metrics": [{"field": "forces", "metric": MeanAbsoluteError(), "name": "weighted_sum"}]}, "reserved"),
        (
            {
                "metrics": [{"field": "total_energy", "metric": MeanAbsoluteError(), "per_type": True}],
                "type_names": ["H"],
            },
            "node field",
        ),
        ({"metrics": [{"field": "forces", "metric": MeanAbsoluteError(), "coeff": -1.0}]}, "non-negative"),
    ],
)
def test_manager_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MetricsManager(**kwargs)


def test_preset_coeff_key_errors():
    with pytest.raises(ValueError, match="unknown keys"):
        EnergyForceLoss(coeffs={"energy": 1.0})
    with pytest.raises(ValueError, match="unknown keys"):
        EnergyForceMetrics(coeffs={"stress_mae": 1.0})


def test_set_coeffs_and_extra_state_roundtrip():
    manager = EnergyForceLoss()
    manager.set_coeffs({"forces_mse": 3.0, "per_atom_energy_mse": 1.0})
    other = EnergyForceLoss()
    other.load_state_dict(manager.state_dict())
    assert other.coeffs == pytest.approx(manager.coeffs)
    assert other.coeffs["forces_mse"] == pytest.approx(0.75)
