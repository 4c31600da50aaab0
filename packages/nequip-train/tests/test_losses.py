"""Huber losses against torch and upstream NequIP 0.19.1, per-type coefficients, NaN labels, cached values."""

import pytest
import torch

from nequip.data import keys
from nequip.train import (
    EnergyForceLoss,
    EnergyForceStressLoss,
    EnergyForceStressMetrics,
    HuberLoss,
    MeanSquaredError,
    MetricsManager,
    StratifiedHuberForceLoss,
)

PREDS = torch.tensor([[0.3, -1.2, 2.0], [0.1, 0.0, -0.4], [4.0, 1.0, -3.0], [0.05, 0.2, 0.1]], dtype=torch.float64)
TARGET = torch.tensor([[0.0, 0.5, 1.0], [1.5, -2.5, 0.3], [1.0, -6.0, 2.0], [0.0, 0.1, 0.0]], dtype=torch.float64)


def test_huber_matches_torch_and_upstream():
    for delta in (0.7, 2.0):
        expected = torch.nn.functional.huber_loss(PREDS, TARGET, delta=delta)
        assert float(HuberLoss(delta=delta)(PREDS, TARGET)) == pytest.approx(float(expected), rel=1e-14)
    # upstream nequip 0.19.1's HuberLoss on the same inputs
    assert float(HuberLoss(delta=0.7)(PREDS, TARGET)) == pytest.approx(1.1421875000000001, rel=1e-14)
    assert float(HuberLoss(delta=0.7, reduction="sum")(PREDS, TARGET)) == pytest.approx(13.70625, rel=1e-14)


def test_stratified_huber_uses_the_delta_of_each_reference_magnitude():
    delta_dict = {0.0: 1.0, 2.0: 0.5, 5.0: 0.1}
    magnitudes = TARGET.norm(dim=-1)  # 1.12, 2.93, 6.4, 0.1 -> strata 0, 1, 2, 0
    deltas = [1.0, 0.5, 0.1, 1.0]
    assert [float(m) > b for m, b in zip(magnitudes, (0, 2, 5, 0))] == [True] * 4
    expected = torch.stack(
        [torch.nn.functional.huber_loss(p, t, delta=d, reduction="none") for p, t, d in zip(PREDS, TARGET, deltas)]
    ).mean()
    loss = StratifiedHuberForceLoss(delta_dict)
    assert float(loss(PREDS, TARGET)) == pytest.approx(float(expected), rel=1e-14)
    # upstream nequip 0.19.1's numbers on the same inputs (the second: a zero bound added with infinite delta)
    assert float(loss.compute()) == pytest.approx(0.4305208333333333, rel=1e-14)
    assert float(StratifiedHuberForceLoss({2.0: 0.5, 5.0: 0.1})(PREDS, TARGET)) == pytest.approx(0.45093749999999994)
    summed = StratifiedHuberForceLoss({2.0: 0.5, 5.0: 0.1}, reduction="sum")(PREDS, TARGET)
    assert float(summed) == pytest.approx(5.411249999999999, rel=1e-14)


def test_huber_gradients_are_finite_with_an_infinite_delta():
    preds = PREDS.clone().requires_grad_(True)
    StratifiedHuberForceLoss({2.0: 0.5})(preds, TARGET).backward()
    assert torch.isfinite(preds.grad).all()
    # below the first bound the loss is x^2 / 2, whose gradient is x / numel
    torch.testing.assert_close(preds.grad[3], (PREDS[3] - TARGET[3]) / PREDS.numel())


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: HuberLoss(delta=0.0), "positive"),
        (lambda: HuberLoss(reduction="max"), "reduction"),
        (lambda: StratifiedHuberForceLoss({0.0: 1.0}), "two strata"),
        (lambda: StratifiedHuberForceLoss({-1.0: 1.0, 2.0: 0.5}), ">= 0"),
    ],
)
def test_huber_argument_errors(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def _frame(types, seed):
    gen = torch.Generator().manual_seed(seed)
    n = len(types)
    return {
        keys.NUM_NODES_KEY: torch.tensor([n]),
        keys.BATCH_KEY: torch.zeros(n, dtype=torch.long),
        keys.ATOM_TYPE_KEY: torch.tensor(types),
        keys.TOTAL_ENERGY_KEY: torch.randn(1, 1, generator=gen, dtype=torch.float64),
        keys.FORCE_KEY: torch.randn(n, 3, generator=gen, dtype=torch.float64),
        keys.STRESS_KEY: torch.randn(1, 3, 3, generator=gen, dtype=torch.float64),
    }


def test_per_type_forces_coeffs_weight_the_type_means():
    target, preds = _frame([0, 0, 1, 1, 1], 0), _frame([0, 0, 1, 1, 1], 1)
    loss = EnergyForceLoss(per_type_forces_coeffs={"H": 3.0, "O": 1.0}, type_names=["H", "O"])
    out = loss(preds, target)
    err = (preds[keys.FORCE_KEY] - target[keys.FORCE_KEY]).square()
    h, o = err[:2].mean(), err[2:].mean()
    assert float(out["forces_mse"]) == pytest.approx(float((3 * h + o) / 4), rel=1e-12)
    assert float(loss.compute()["forces_mse"]) == pytest.approx(float((3 * h + o) / 4), rel=1e-12)
    # equal weights give the plain mean over types
    equal = EnergyForceLoss(per_type_forces_coeffs={"H": 2.0, "O": 2.0}, type_names=["H", "O"])
    assert float(equal(preds, target)["forces_mse"]) == pytest.approx(float((h + o) / 2), rel=1e-12)
    # a batch without one type uses the types it has
    only_h = EnergyForceLoss(per_type_forces_coeffs={"H": 3.0, "O": 1.0}, type_names=["H", "O"])
    t1, p1 = _frame([0, 0], 2), _frame([0, 0], 3)
    expected = (p1[keys.FORCE_KEY] - t1[keys.FORCE_KEY]).square().mean()
    assert float(only_h(p1, t1)["forces_mse"]) == pytest.approx(float(expected), rel=1e-12)


@pytest.mark.parametrize(
    "coeffs, match",
    [({"H": 1.0}, "missing"), ({"H": 1.0, "O": 1.0, "C": 1.0}, "unknown"), ({"H": 1.0, "O": 0.0}, "> 0")],
)
def test_per_type_coeffs_errors(coeffs, match):
    with pytest.raises(ValueError, match=match):
        EnergyForceStressLoss(per_type_forces_coeffs=coeffs, type_names=["H", "O"])
    with pytest.raises(ValueError, match="needs per_type"):
        MetricsManager([{"field": "forces", "metric": MeanSquaredError(), "per_type_coeffs": {"H": 1.0}}], ["H"])


def test_ignore_nan_stress_presets():
    frames = [_frame([0, 1], 4), _frame([1, 1, 0], 5)]
    preds = [_frame([0, 1], 6), _frame([1, 1, 0], 7)]
    frames[1][keys.STRESS_KEY] = torch.full((1, 3, 3), float("nan"), dtype=torch.float64)
    loss = EnergyForceStressLoss(ignore_nan={"stress": True})
    metrics = EnergyForceStressMetrics(ignore_nan={"stress": True})
    for p, t in zip(preds, frames):
        loss(p, t)
        metrics(p, t)
    expected = (preds[0][keys.STRESS_KEY] - frames[0][keys.STRESS_KEY]).square().mean()
    assert float(loss.compute()["stress_mse"]) == pytest.approx(float(expected), rel=1e-12)
    assert float(metrics.compute()["stress_rmse"]) == pytest.approx(float(expected.sqrt()), rel=1e-12)
    assert torch.isnan(EnergyForceStressLoss()(preds[1], frames[1])["stress_mse"])
    with pytest.raises(ValueError, match="unknown keys"):
        EnergyForceStressLoss(ignore_nan={"energy": True})


def test_step_and_epoch_values_are_cached():
    loss = EnergyForceLoss()
    assert loss.metrics_values_step == {"per_atom_energy_mse": None, "forces_mse": None}
    out = loss(_frame([0, 1], 8), _frame([0, 1], 9))
    assert loss.metrics_values_step["forces_mse"] == pytest.approx(float(out["forces_mse"]))
    epoch = loss.compute()
    assert loss.metrics_values_epoch["per_atom_energy_mse"] == pytest.approx(float(epoch["per_atom_energy_mse"]))
