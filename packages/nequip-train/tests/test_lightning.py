"""NequIPLightningModule and EMALightningModule: building, EMA updates, training, checkpoints."""

import os

import lightning
import pytest
import torch

from nequip.model import ModelFromCheckpoint
from nequip.train import EMALightningModule, NequIPLightningModule
from nequip.train.checkpoint_io import AtomicCheckpointIO

LOSS = {"_target_": "nequip.train.EnergyForceLoss", "coeffs": {"total_energy": 1.0, "forces": 1.0}}
METRICS = {"_target_": "nequip.train.EnergyForceMetrics", "coeffs": {"total_energy_mae": 1.0, "forces_mae": 1.0}}
ADAM = {"_target_": "torch.optim.Adam", "lr": 0.01}


def _module(model_config, cls=EMALightningModule, **kwargs):
    args = dict(
        model=model_config, optimizer=ADAM, loss=LOSS, val_metrics=METRICS, test_metrics=METRICS, train_metrics=METRICS
    )
    args.update(kwargs)
    return cls(**args)


def test_model_is_built_by_its_builder(tiny_model_config):
    module = _module(tiny_model_config(), cls=NequIPLightningModule)
    assert module.model.model_config["_target_"] == "nequip.model.NequIPGNNModel"
    assert module.model.type_names == ["Cu", "Au"]
    assert module.evaluation_model() is module.model


def test_missing_sections_and_bad_scheduler(tiny_model_config):
    with pytest.raises(ValueError, match="loss"):
        NequIPLightningModule(model=tiny_model_config(), optimizer=ADAM)
    with pytest.raises(ValueError, match="unknown keys"):
        _module(
            tiny_model_config(),
            lr_scheduler={"scheduler": {"_target_": "torch.optim.lr_scheduler.StepLR", "step_size": 1}, "bogus": 1},
        )
    with pytest.raises(ValueError, match="ema_decay"):
        _module(tiny_model_config(), ema_decay=1.5)


def test_ema_update_follows_the_warmup_formula(tiny_model_config):
    module = _module(tiny_model_config(), ema_decay=0.9)
    ema0 = [p.detach().clone() for p in module.ema_model.parameters()]
    expected = ema0
    for n in range(12):
        with torch.no_grad():
            for p in module.model.parameters():
                p.add_(0.01 * (n + 1))
        decay = min(0.9, (1 + n) / (10 + n))
        assert module.current_decay() == pytest.approx(decay)
        module.update_ema()
        expected = [decay * e + (1 - decay) * p.detach() for e, p in zip(expected, module.model.parameters())]
    for e, p in zip(expected, module.ema_model.parameters()):
        torch.testing.assert_close(p, e)
    assert int(module.ema_num_updates) == 12


def _trainer(tmp_path, epochs=1, **kwargs):
    from lightning.pytorch.callbacks import ModelCheckpoint

    return lightning.Trainer(
        accelerator="cpu",
        max_epochs=epochs,
        inference_mode=False,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        plugins=[AtomicCheckpointIO()],
        callbacks=[
            ModelCheckpoint(dirpath=str(tmp_path), filename="best", monitor="val0_epoch/weighted_sum", save_last=True)
        ],
        **kwargs,
    )


def test_training_logs_upstream_names_and_checkpoints_load(tmp_path, tiny_model_config, tiny_datamodule):
    lr_scheduler = {
        "scheduler": {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "factor": 0.5, "patience": 0},
        "monitor": "val0_epoch/weighted_sum",
        "interval": "epoch",
        "frequency": 1,
    }
    module = _module(tiny_model_config(), lr_scheduler=lr_scheduler)
    before = [p.detach().clone() for p in module.model.parameters()]
    trainer = _trainer(tmp_path, epochs=2)
    datamodule = tiny_datamodule()
    trainer.fit(module, datamodule=datamodule)
    logged = trainer.callback_metrics
    for name in (
        "val0_epoch/weighted_sum",
        "val0_epoch/forces_mae",
        "train_loss_epoch/weighted_sum",
        "train_loss_epoch/forces_mse",
        "train_metric_epoch/per_atom_energy_mae",
    ):
        assert name in logged, sorted(logged)
    assert any(not torch.equal(a, b) for a, b in zip(before, module.model.parameters()))
    # EMA differs from the trained weights, and checkpoints give the EMA model
    assert any(not torch.equal(a, b) for a, b in zip(module.ema_model.parameters(), module.model.parameters()))
    for name in ("best.ckpt", "last.ckpt"):
        path = os.path.join(tmp_path, name)
        assert os.path.isfile(path) and not any(f.endswith(".tmp" + str(os.getpid())) for f in os.listdir(tmp_path))
        loaded = ModelFromCheckpoint(path)
        assert loaded.model_config == module.model.model_config
    last = ModelFromCheckpoint(os.path.join(tmp_path, "last.ckpt"))
    for (name, p), q in zip(last.named_parameters(), module.ema_model.parameters()):
        torch.testing.assert_close(p, q, msg=name)
    # test with the EMA model equals the loaded model's predictions
    datamodule.setup("test")
    batch = next(
        iter(
            datamodule.test_dataloader()[0]
            if isinstance(datamodule.test_dataloader(), list)
            else datamodule.test_dataloader()
        )
    )
    expected = module.ema_model(dict(batch))
    got = last(dict(batch))
    torch.testing.assert_close(got["total_energy"], expected["total_energy"])


def test_epoch_validation_metrics_do_not_depend_on_batch_size(tmp_path, tiny_model_config, tiny_datamodule):
    values = []
    for batch_size in (1, 3):
        module = _module(tiny_model_config(), cls=NequIPLightningModule)
        datamodule = tiny_datamodule(num_frames=8, val=5)
        datamodule.val_dataloader_config["batch_size"] = batch_size
        trainer = lightning.Trainer(
            accelerator="cpu", logger=False, enable_progress_bar=False, inference_mode=False, enable_model_summary=False
        )
        values.append(trainer.validate(module, datamodule=datamodule, verbose=False)[0])
    assert values[0].keys() == values[1].keys()
    for name in values[0]:
        assert values[0][name] == pytest.approx(values[1][name], rel=1e-10), name
