"""Optimizer parameter groups, nested LR schedulers from configs, and MuonWithAuxAdam."""

import numpy as np
import pytest
import torch

from nequip.train import MuonWithAuxAdam, NequIPLightningModule
from nequip.train.muon import orthogonalize
from nequip.train.optimization import build_lr_scheduler, build_optimizer

ADAM = {"_target_": "torch.optim.Adam", "lr": 0.1}


def two_groups(model):
    """Parameter groups of a test: the first parameter at a tenth of the learning rate."""
    first, *rest = list(model.parameters())
    return [{"params": [first], "lr": 0.01}, {"params": rest}]


def _lrs(scheduler, optimizer, steps):
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


@pytest.mark.parametrize("kind", ["SequentialLR", "ChainedScheduler"])
def test_nested_schedulers_match_torch(kind):
    inner = [
        {"_target_": "torch.optim.lr_scheduler.LinearLR", "start_factor": 0.1, "total_iters": 3},
        {"_target_": "torch.optim.lr_scheduler.ExponentialLR", "gamma": 0.5},
    ]
    config = {"_target_": f"torch.optim.lr_scheduler.{kind}", "schedulers": inner}
    if kind == "SequentialLR":
        config["milestones"] = [3]
    model = torch.nn.Linear(2, 1)
    optimizer = build_optimizer(ADAM, model)
    got = _lrs(build_lr_scheduler(config, optimizer), optimizer, 7)

    reference_model = torch.nn.Linear(2, 1)
    reference_optimizer = torch.optim.Adam(reference_model.parameters(), lr=0.1)
    schedulers = [
        torch.optim.lr_scheduler.LinearLR(reference_optimizer, start_factor=0.1, total_iters=3),
        torch.optim.lr_scheduler.ExponentialLR(reference_optimizer, gamma=0.5),
    ]
    if kind == "SequentialLR":
        reference = torch.optim.lr_scheduler.SequentialLR(reference_optimizer, schedulers, milestones=[3])
    else:
        reference = torch.optim.lr_scheduler.ChainedScheduler(schedulers)
    assert got == pytest.approx(_lrs(reference, reference_optimizer, 7), rel=1e-12)


def test_param_groups_and_config_errors(tiny_model_config):
    config = {**ADAM, "param_groups": {"_target_": f"{__name__}.two_groups"}}
    module = NequIPLightningModule(
        model=tiny_model_config(), optimizer=config, loss={"_target_": "nequip.train.EnergyForceLoss"}
    )
    optimizer = module.configure_optimizers()
    assert [group["lr"] for group in optimizer.param_groups] == [0.01, 0.1]
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(list(module.model.parameters()))
    with pytest.raises(ValueError, match="must not set `params`"):
        build_optimizer({**ADAM, "params": []}, module.model)
    with pytest.raises(ValueError, match="must be a list"):
        build_lr_scheduler({"_target_": "torch.optim.lr_scheduler.SequentialLR", "schedulers": {}}, optimizer)


def test_orthogonalize_approximates_the_polar_factor():
    matrix = torch.randn(6, 4, generator=torch.Generator().manual_seed(0))
    u, _, vh = torch.linalg.svd(matrix, full_matrices=False)
    result = orthogonalize(matrix).to(torch.float32)
    # the result is U S' V^T (the singular vectors of the input) with S' in the quintic iteration's band
    rotated = u.T @ result @ vh.T
    diagonal = rotated.diagonal()
    assert diagonal.min() > 0.6 and diagonal.max() < 1.25
    assert (rotated - torch.diag(diagonal)).abs().max() < 0.05  # bfloat16 rounding


def test_adam_groups_equal_torch_adam():
    params = [torch.nn.Parameter(torch.randn(3, 2, generator=torch.Generator().manual_seed(i))) for i in range(2)]
    reference = [torch.nn.Parameter(p.detach().clone()) for p in params]
    ours = MuonWithAuxAdam([{"params": params, "use_muon": False, "lr": 0.01, "betas": (0.9, 0.99), "eps": 1e-8}])
    theirs = torch.optim.Adam(reference, lr=0.01, betas=(0.9, 0.99), eps=1e-8)
    for step in range(4):
        for p, q in zip(params, reference):
            p.grad = torch.sin(torch.arange(6.0).reshape(3, 2) * (step + 1))
            q.grad = p.grad.clone()
        ours.step()
        theirs.step()
    for p, q in zip(params, reference):
        torch.testing.assert_close(p, q)


def test_muon_with_aux_adam_matches_upstream():
    w = torch.nn.Parameter(torch.tensor([[0.5, -0.2, 0.1], [0.3, 0.8, -0.6]]))
    b = torch.nn.Parameter(torch.tensor([0.1, -0.3]))
    e = torch.nn.Parameter(torch.arange(8.0) / 10)
    reshaping = {1: [((0, 6, None), (2, 3)), ((6, 8, None), (1, 2))]}
    optimizer = MuonWithAuxAdam(
        [
            {"params": [w, e], "use_muon": True, "lr": 0.05, "e3nn_reshaping": reshaping},
            {"params": [b], "use_muon": False, "lr": 0.01},
        ]
    )
    for k in range(3):
        for q in (w, b, e):
            q.grad = torch.sin(torch.arange(q.numel(), dtype=torch.float32).reshape(q.shape) * (k + 1) + 1.0)
        optimizer.step()
    # upstream nequip 0.19.1's MuonWithAuxAdam, same groups and gradients (bfloat16 Newton-Schulz)
    expected_w = [[0.3875, -0.224609375, 0.14277345], [0.30888674, 0.83964849, -0.46835935]]
    expected_b = [0.07000001, -0.31843284]
    expected_e = [-0.1125, 0.07539062, 0.24277344, 0.30888674, 0.43964842, 0.63164067, 0.53984374, 0.61796874]
    np.testing.assert_allclose(w.detach().numpy(), expected_w, atol=1e-6)
    np.testing.assert_allclose(b.detach().numpy(), expected_b, atol=1e-6)
    np.testing.assert_allclose(e.detach().numpy(), expected_e, atol=1e-6)


def test_muon_group_errors():
    p = torch.nn.Parameter(torch.zeros(3))
    with pytest.raises(ValueError, match="use_muon"):
        MuonWithAuxAdam([{"params": [p]}])
    with pytest.raises(ValueError, match="unknown options"):
        MuonWithAuxAdam([{"params": [p], "use_muon": True, "betas": (0.9, 0.9)}])
    optimizer = MuonWithAuxAdam([{"params": [p], "use_muon": True}])
    p.grad = torch.ones(3)
    with pytest.raises(ValueError, match="Adam group"):
        optimizer.step()
