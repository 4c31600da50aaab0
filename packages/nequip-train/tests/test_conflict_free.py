"""ConFIG: the update direction against a NumPy reference and its defining property; ConFIG training."""

import lightning
import numpy as np
import pytest
import torch

from nequip.train import ConFIGLightningModule, EMAConFIGLightningModule
from nequip.train.conflict_free import conflict_free_direction


def numpy_config(gradients, weights):
    """ConFIG from its definition: unit x of the min-norm least-squares solution of U x = w/|w|, times sum_i g_i.x."""
    unit = gradients / np.linalg.norm(gradients, axis=1, keepdims=True)
    x = np.linalg.lstsq(unit, weights / np.linalg.norm(weights), rcond=None)[0]
    x /= np.linalg.norm(x)
    return (gradients @ x).sum() * x


@pytest.mark.parametrize("lstsq", [True, False])
@pytest.mark.parametrize("m, n", [(2, 5), (3, 40), (4, 4)])
def test_direction_matches_numpy_and_conflicts_with_no_term(lstsq, m, n):
    rng = np.random.default_rng(m * n)
    gradients = rng.normal(size=(m, n))
    gradients[1] = -0.9 * gradients[0] + 0.3 * gradients[1]  # two strongly conflicting terms
    weights = rng.uniform(0.5, 2.0, size=m)
    got = conflict_free_direction(torch.tensor(gradients), torch.tensor(weights), lstsq=lstsq).numpy()
    np.testing.assert_allclose(got, numpy_config(gradients, weights), rtol=1e-9, atol=1e-12)
    projections = gradients @ got
    assert (projections > 0).all()  # a step along -got decreases every term to first order
    # each unit gradient's projection on the direction is proportional to its weight
    unit = gradients / np.linalg.norm(gradients, axis=1, keepdims=True)
    ratios = unit @ got / weights
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-8)


def test_parallel_gradients_give_their_common_direction():
    g = torch.tensor([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0]], dtype=torch.float64)
    got = conflict_free_direction(g, torch.tensor([1.0, 1.0], dtype=torch.float64), lstsq=False)
    torch.testing.assert_close(got, g.sum(0))


LOSS = {"_target_": "nequip.train.EnergyForceLoss", "coeffs": {"total_energy": 1.0, "forces": 3.0}}
METRICS = {"_target_": "nequip.train.EnergyForceMetrics"}
PLATEAU = {
    "scheduler": {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "factor": 0.5, "patience": 0},
    "monitor": "val0_epoch/weighted_sum",
    "interval": "epoch",
    "frequency": 1,
}


def _module(cls, model_config, **kwargs):
    return cls(
        model=model_config,
        optimizer={"_target_": "torch.optim.SGD", "lr": 0.01},
        loss=LOSS,
        val_metrics=METRICS,
        **kwargs,
    )


def test_config_gradients_are_the_conflict_free_update(cpu_trainer, tiny_model_config, tiny_datamodule):
    module = _module(ConFIGLightningModule, tiny_model_config())
    datamodule = tiny_datamodule()
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    params = list(module.model.parameters())
    output = module.model(dict(batch))
    losses = module.loss(output, batch)
    per_term = [
        torch.cat([g.reshape(-1) for g in torch.autograd.grad(losses[name], params, retain_graph=True)])
        for name in ("per_atom_energy_mse", "forces_mse")
    ]
    expected = conflict_free_direction(torch.stack(per_term), torch.tensor([0.25, 0.75], dtype=torch.float64))

    module.loss.reset()

    class Capture(lightning.pytorch.callbacks.Callback):
        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            self.grads = torch.cat([p.grad.reshape(-1) for p in pl_module.model.parameters()])

    capture = Capture()
    trainer = cpu_trainer(max_steps=1, limit_val_batches=0, callbacks=[capture])
    with torch.no_grad():  # the same weights as when the reference was computed
        reference = [p.clone() for p in params]
    trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader([batch], batch_size=None))
    torch.testing.assert_close(capture.grads, expected)
    assert any(not torch.equal(a, b) for a, b in zip(reference, module.model.parameters()))


@pytest.mark.parametrize("cls", [ConFIGLightningModule, EMAConFIGLightningModule])
def test_config_training_with_plateau_schedule_and_clipping(
    tmp_path, cls, cpu_trainer, tiny_model_config, tiny_datamodule
):
    module = _module(cls, tiny_model_config(), lr_scheduler=PLATEAU, gradient_clip_val=0.5)
    trainer = cpu_trainer(max_epochs=3, default_root_dir=str(tmp_path))
    trainer.fit(module, datamodule=tiny_datamodule())
    assert trainer.global_step == 6  # 2 batches x 3 epochs, one step each
    assert "train_loss_epoch/weighted_sum" in trainer.callback_metrics
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.last_epoch == 3  # stepped once per epoch by the module
    if cls is EMAConFIGLightningModule:
        assert int(module.ema_num_updates) == 6


def test_config_argument_errors(tiny_model_config):
    with pytest.raises(ValueError, match="gradient_clip_algorithm"):
        _module(ConFIGLightningModule, tiny_model_config(), gradient_clip_algorithm="max")
