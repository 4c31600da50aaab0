"""ScheduleFreeLightningModule (train/eval weights, checkpoints) and SimpleDDPStrategy (gradient averaging)."""

import os
import subprocess
import sys

import lightning
import pytest
import torch

from nequip.model import ModelFromCheckpoint
from nequip.train import ScheduleFreeLightningModule, SimpleDDPStrategy

SCHEDULE_FREE = {"_target_": "schedulefree.AdamWScheduleFree", "lr": 0.01, "warmup_steps": 2}
LOSS = {"_target_": "nequip.train.EnergyForceLoss"}
METRICS = {"_target_": "nequip.train.EnergyForceMetrics"}


def _checkpointing(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    return {
        "enable_checkpointing": True,
        "callbacks": [ModelCheckpoint(dirpath=str(tmp_path), filename="best", save_last=True)],
    }


def test_schedule_free_error_names_the_extra(monkeypatch, tiny_model_config):
    monkeypatch.setitem(sys.modules, "schedulefree", None)  # as if not installed
    with pytest.raises(ImportError, match=r"nequip-train\[schedulefree\]"):
        ScheduleFreeLightningModule(model=tiny_model_config(), optimizer=SCHEDULE_FREE, loss=LOSS)


def test_schedule_free_evaluates_and_saves_the_averaged_weights(
    tmp_path, cpu_trainer, tiny_model_config, tiny_datamodule
):
    pytest.importorskip("schedulefree")
    with pytest.raises(ValueError, match="schedule-free optimizer"):
        ScheduleFreeLightningModule(model=tiny_model_config(), optimizer={"_target_": "torch.optim.Adam"}, loss=LOSS)
    module = ScheduleFreeLightningModule(
        model=tiny_model_config(), optimizer=SCHEDULE_FREE, loss=LOSS, val_metrics=METRICS, test_metrics=METRICS
    )
    seen = []

    class Record(lightning.pytorch.callbacks.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            seen.append(("train", trainer.optimizers[0].param_groups[0]["train_mode"]))

        def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
            seen.append(("val", trainer.optimizers[0].param_groups[0]["train_mode"]))

    trainer = cpu_trainer(max_epochs=2, **_checkpointing(tmp_path))
    trainer.callbacks.append(Record())
    datamodule = tiny_datamodule()
    trainer.fit(module, datamodule=datamodule)
    assert {mode for stage, mode in seen if stage == "train"} == {True}
    assert {mode for stage, mode in seen if stage == "val"} == {False}

    # the model payload of the checkpoint holds x, the weights of eval mode
    optimizer = trainer.optimizers[0]
    assert optimizer.param_groups[0]["train_mode"]
    trained = [p.detach().clone() for p in module.model.parameters()]
    optimizer.eval()
    averaged = [p.detach().clone() for p in module.model.parameters()]
    optimizer.train()
    assert any(not torch.allclose(a, b) for a, b in zip(trained, averaged))
    loaded = ModelFromCheckpoint(os.path.join(tmp_path, "last.ckpt"))
    for p, q in zip(loaded.parameters(), averaged):
        torch.testing.assert_close(p, q)

    # a test run from the checkpoint rebuilds the optimizer state and tests x
    fresh = ScheduleFreeLightningModule(
        model=tiny_model_config(), optimizer=SCHEDULE_FREE, loss=LOSS, val_metrics=METRICS, test_metrics=METRICS
    )
    cpu_trainer().test(fresh, datamodule=datamodule, ckpt_path=os.path.join(tmp_path, "last.ckpt"), verbose=False)
    for p, q in zip(fresh.model.parameters(), averaged):
        torch.testing.assert_close(p, q)


_RANK_SCRIPT = """
import sys, torch, torch.distributed
from nequip.train.simple_ddp import average_gradients_
rank, init_file, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
model = torch.nn.Linear(3, 2)
torch.manual_seed(rank)
model.weight.grad = torch.randn(2, 3)  # the bias has no gradient on any rank
local = model.weight.grad.clone()
average_gradients_(list(model.parameters()))
torch.save({"local": local, "weight": model.weight.grad, "bias": model.bias.grad}, out)
torch.distributed.destroy_process_group()
"""


def test_gradients_are_averaged_over_two_gloo_processes(tmp_path):
    script = tmp_path / "rank.py"
    script.write_text(_RANK_SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    outs = [tmp_path / f"rank{rank}.pt" for rank in range(2)]
    processes = [
        subprocess.Popen([sys.executable, str(script), str(rank), str(tmp_path / "init"), str(out)], env=env)
        for rank, out in enumerate(outs)
    ]
    assert [process.wait(timeout=300) for process in processes] == [0, 0]
    results = [torch.load(out) for out in outs]
    mean = (results[0]["local"] + results[1]["local"]) / 2
    assert not torch.allclose(results[0]["local"], results[1]["local"])
    for result in results:
        torch.testing.assert_close(result["weight"], mean)
        torch.testing.assert_close(result["bias"], torch.zeros(2))


def test_simple_ddp_strategy_trains_unwrapped(cpu_trainer, tiny_model_config, tiny_datamodule, monkeypatch):
    from nequip.train import NequIPLightningModule

    # Lightning writes the rendezvous variables into os.environ and leaves a process group with
    # a listening store behind; both would leak into later tests (their subprocesses inherit the port)
    for variable in ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK"):
        monkeypatch.delenv(variable, raising=False)

    module = NequIPLightningModule(
        model=tiny_model_config(), optimizer={"_target_": "torch.optim.Adam", "lr": 0.01}, loss=LOSS
    )
    before = [p.detach().clone() for p in module.model.parameters()]
    strategy = SimpleDDPStrategy(process_group_backend="gloo")
    trainer = cpu_trainer(devices=1, strategy=strategy)
    try:
        trainer.fit(module, datamodule=tiny_datamodule())
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    assert trainer.strategy.model is module  # no DistributedDataParallel wrapper
    assert any(not torch.equal(a, b) for a, b in zip(before, module.model.parameters()))
