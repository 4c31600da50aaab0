"""Callbacks: loss-coefficient schedule, test predictions to extxyz, parity plots."""

import os

import ase.io
import lightning
import pytest

from nequip.data import keys
from nequip.train import EMALightningModule
from nequip.train.callbacks import LossCoefficientScheduler, ParityPlot, TestTimeXYZFileWriter

LOSS = {"_target_": "nequip.train.EnergyForceLoss"}
METRICS = {"_target_": "nequip.train.EnergyForceMetrics"}


def _module(config):
    return EMALightningModule(
        model=config,
        optimizer={"_target_": "torch.optim.Adam", "lr": 0.01},
        loss=LOSS,
        val_metrics=METRICS,
        test_metrics=METRICS,
    )


def test_loss_coefficient_schedule(tmp_path, cpu_trainer, tiny_model_config, tiny_datamodule):
    seen = []

    class Record(lightning.pytorch.callbacks.Callback):
        def on_train_epoch_end(self, trainer, pl_module):
            seen.append(dict(pl_module.loss.coeffs))

    module = _module(tiny_model_config())
    schedule = LossCoefficientScheduler({1: {"forces_mse": 3.0, "per_atom_energy_mse": 1.0}})
    cpu_trainer(callbacks=[schedule, Record()], max_epochs=2, default_root_dir=str(tmp_path)).fit(
        module, datamodule=tiny_datamodule()
    )
    assert seen[0]["forces_mse"] == pytest.approx(0.5)
    assert seen[1]["forces_mse"] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="not loss terms"):
        cpu_trainer(callbacks=[LossCoefficientScheduler({0: {"energy_mse": 1.0}})]).fit(
            _module(tiny_model_config()), datamodule=tiny_datamodule()
        )


def test_xyz_writer_and_parity_plot(tmp_path, cpu_trainer, tiny_model_config, tiny_datamodule):
    module = _module(tiny_model_config())
    writer = TestTimeXYZFileWriter(str(tmp_path / "out" / "test"), chemical_symbols=["Cu", "Au"])
    parity = ParityPlot()
    datamodule = tiny_datamodule(num_frames=8, val=1)  # 1 test frame
    cpu_trainer(callbacks=[writer, parity], default_root_dir=str(tmp_path)).test(module, datamodule=datamodule)
    frames = ase.io.read(writer.path(0), index=":")
    assert len(frames) == 1
    datamodule.setup("test")
    loader = datamodule.test_dataloader()
    batch = next(iter(loader[0] if isinstance(loader, list) else loader))
    expected = module.ema_model(dict(batch))
    assert frames[0].get_potential_energy() == pytest.approx(float(expected[keys.TOTAL_ENERGY_KEY][0, 0]), rel=1e-10)
    assert frames[0].get_forces() == pytest.approx(expected[keys.FORCE_KEY].detach().numpy(), abs=1e-7)
    assert parity.written == [os.path.join(str(tmp_path), "parity_dataset0.png")]
    with open(parity.written[0], "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="out_file"):
        TestTimeXYZFileWriter("a.xyz")
