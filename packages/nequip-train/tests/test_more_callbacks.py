"""SoftAdapt, linear coefficient schedules, coefficient and training-statistics monitors, TF32 schedules,
validation-time extxyz files, the profiler callback and WandbWatch, each in a short CPU fit."""

import glob
import json
import math
import os
import sys

import ase.io
import lightning
import pytest
import torch

from nequip.data import keys
from nequip.train import NequIPLightningModule
from nequip.train.callbacks import (
    LinearLossCoefficientScheduler,
    LossCoefficientMonitor,
    SoftAdapt,
    TF32Scheduler,
    TorchProfilerCallback,
    TrainingStatsMonitor,
    ValTimeXYZFileWriter,
    WandbWatch,
)
from nequip.train.callbacks.softadapt import softadapt_coefficients

LOSS = {"_target_": "nequip.train.EnergyForceLoss", "coeffs": {"total_energy": 1.0, "forces": 3.0}}
METRICS = {"_target_": "nequip.train.EnergyForceMetrics"}


def _module(config):
    return NequIPLightningModule(
        model=config, optimizer={"_target_": "torch.optim.Adam", "lr": 0.01}, loss=LOSS, val_metrics=METRICS
    )


@pytest.fixture
def fit(tmp_path, cpu_trainer):
    def run(module, datamodule, callbacks, epochs):
        trainer = cpu_trainer(callbacks=callbacks, max_epochs=epochs, default_root_dir=str(tmp_path))
        trainer.fit(module, datamodule=datamodule)
        return trainer

    return run


class Record(lightning.pytorch.callbacks.Callback):
    """The loss coefficients and epoch loss values seen at the start of each training epoch."""

    def __init__(self):
        self.coeffs, self.losses = [], []

    def on_train_epoch_start(self, trainer, pl_module):
        self.coeffs.append(dict(pl_module.loss.coeffs))
        self.losses.append(dict(pl_module.loss.metrics_values_epoch))


def test_softadapt_formula():
    got = softadapt_coefficients({"a": 0.2, "b": -0.1}, {"a": 0.5, "b": 0.5}, beta=1.0)
    scale = 1.0 / math.hypot(0.2, 0.1)
    ea, eb = math.exp(0.2 * scale), math.exp(-0.1 * scale)
    assert got["a"] == pytest.approx(ea / (ea + eb), rel=1e-12)
    assert got["b"] == pytest.approx(eb / (ea + eb), rel=1e-12)


def test_softadapt_and_coefficient_monitor(tmp_path, fit, tiny_model_config, tiny_datamodule):
    record = Record()
    callbacks = [record, SoftAdapt(beta=1.1, interval="epoch", frequency=1), LossCoefficientMonitor("epoch", 1)]
    trainer = fit(_module(tiny_model_config()), tiny_datamodule(), callbacks, epochs=4)
    # SoftAdapt runs after Record at each epoch start: epoch e's coefficients are set from the
    # changes of the epoch losses between epochs e-2 and e-1
    l1, l2 = record.losses[2], record.losses[3]
    changes = {name: l2[name] - l1[name] for name in l1}
    expected = softadapt_coefficients(changes, record.coeffs[3], beta=1.1)
    final = trainer.lightning_module.loss.coeffs
    for name in expected:
        assert final[name] == pytest.approx(expected[name], rel=1e-9)
        assert float(trainer.callback_metrics[f"loss_coeff/{name}"]) == pytest.approx(final[name])  # last epoch's
    assert record.coeffs[2] != record.coeffs[3]  # the update of epoch 2 (the first with a change to adapt to)
    with pytest.raises(ValueError, match="interval"):
        SoftAdapt(beta=1.0, interval="step", frequency=1)


def test_linear_loss_coefficient_scheduler(tmp_path, fit, tiny_model_config, tiny_datamodule):
    record = Record()
    schedule = LinearLossCoefficientScheduler(
        {"per_atom_energy_mse": 3.0, "forces_mse": 1.0}, transition_epochs=2, start_epoch=1
    )
    fit(_module(tiny_model_config()), tiny_datamodule(), [schedule, record], epochs=4)
    forces = [c["forces_mse"] for c in record.coeffs]
    # 0.75 until the start epoch, then linearly to 0.25 over two epochs
    assert forces == pytest.approx([0.75, 0.75, 0.5, 0.25])
    assert schedule.state_dict() == {"initial_coeffs": {"per_atom_energy_mse": 0.25, "forces_mse": 0.75}}
    with pytest.raises(ValueError, match="not loss terms"):
        fit(
            _module(tiny_model_config()),
            tiny_datamodule(),
            [LinearLossCoefficientScheduler({"energy_mse": 1.0}, 1)],
            epochs=1,
        )


def test_tf32_schedule_training_stats_and_profiler(tmp_path, fit, tiny_model_config, tiny_datamodule):
    flags = []

    class Flag(lightning.pytorch.callbacks.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            flags.append(torch.backends.cuda.matmul.allow_tf32)

        def on_before_optimizer_step(self, trainer, pl_module, optimizer):
            self.weights = {name: p.detach().clone() for name, p in pl_module.named_parameters()}

    profiler = TorchProfilerCallback(profile_dir=str(tmp_path / "prof"), wait=0, warmup=1, active=1, summary_rows=5)
    flag = Flag()
    callbacks = [TF32Scheduler({0: True, 1: False}), flag, TrainingStatsMonitor(log_freq=1), profiler]
    previous = torch.backends.cuda.matmul.allow_tf32
    try:
        trainer = fit(_module(tiny_model_config()), tiny_datamodule(), callbacks, epochs=2)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
        torch.backends.cudnn.allow_tf32 = previous
    assert flags == [True, True, False, False]
    assert float(trainer.callback_metrics["tf32_enabled"]) == 0.0
    logged = trainer.callback_metrics
    for group in ("weights.std", "gradients.rms", "optimizer.exp_avg.rms", "optimizer.sqrt_exp_avg_sq.max"):
        assert any(name.startswith(f"training_stats.{group}/model.") for name in logged), group
    name = next(n for n in logged if n.startswith("training_stats.weights.absmax/"))
    weight = flag.weights[name.split("/", 1)[1]]  # logged before the last optimizer step
    assert float(logged[name]) == pytest.approx(float(weight.abs().max()), rel=1e-6)  # Lightning logs float32
    assert len(profiler.traces) == 1
    with open(profiler.traces[0]) as handle:
        assert "traceEvents" in json.load(handle)
    assert glob.glob(str(tmp_path / "prof" / "*.txt"))
    with pytest.raises(ValueError, match="include 0"):
        TF32Scheduler({5: True})
    with pytest.raises(ValueError, match="unknown activities"):
        TorchProfilerCallback(activities=["GPU"])


def test_val_time_xyz_writer(tmp_path, fit, tiny_model_config, tiny_datamodule):
    writer = ValTimeXYZFileWriter(
        out_file=str(tmp_path / "val"),
        output_fields_from_original_dataset=[keys.TOTAL_ENERGY_KEY, keys.FORCE_KEY],
        chemical_symbols=["Cu", "Au"],
        separate_file_per_epoch=True,
        every_n_epochs=2,
    )
    module = _module(tiny_model_config())
    datamodule = tiny_datamodule(num_frames=7, val=2)
    fit(module, datamodule, [writer], epochs=3)
    assert sorted(os.listdir(tmp_path)) == ["val_dataset0_epoch0.xyz", "val_dataset0_epoch2.xyz"]
    frames = ase.io.read(writer.path(0, epoch=2), index=":")
    assert len(frames) == 2  # the two validation frames, not the sanity check's
    datamodule.setup("validate")
    loader = datamodule.val_dataloader()
    batch = next(iter(loader[0] if isinstance(loader, list) else loader))
    reference = dict(batch)
    predicted = module.model(dict(batch))
    for index, atoms in enumerate(frames):
        assert atoms.get_potential_energy() == pytest.approx(float(predicted[keys.TOTAL_ENERGY_KEY][index]), rel=1e-8)
        assert atoms.info["original_dataset_energy"] == pytest.approx(
            float(reference[keys.TOTAL_ENERGY_KEY][index]), rel=1e-12
        )
    n0 = int(batch[keys.NUM_NODES_KEY][0])
    assert frames[0].arrays["original_dataset_forces"] == pytest.approx(batch[keys.FORCE_KEY][:n0].numpy())
    assert frames[0].get_forces() == pytest.approx(predicted[keys.FORCE_KEY][:n0].detach().numpy(), abs=1e-8)
    with pytest.raises(ValueError, match="every_n_epochs"):
        ValTimeXYZFileWriter(out_file="x", every_n_epochs=0)
    with pytest.raises(ValueError, match="unknown field"):
        ValTimeXYZFileWriter(out_file="x", output_fields_from_original_dataset=["no_such_field"])


def test_wandb_watch_needs_wandb(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed
    with pytest.raises(ImportError, match="pip install wandb"):
        WandbWatch(log_freq=10)
