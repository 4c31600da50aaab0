"""Restarts: N epochs, then a restart from last.ckpt to N+M, equal one N+M run; atomic checkpoints."""

import os
from pathlib import Path

import pytest
import torch

from nequip.train.checkpoint_io import AtomicCheckpointIO
from nequip.train.cli import run_config
from nequip.train.lightning import STATS_CHECKPOINT_KEY

ROOT = Path(__file__).resolve().parents[1]
TINY = [
    "run=[train]",
    "num_layers=1",
    "num_features=4",
    "data.split_dataset.dataset.num_frames=7",
    "data.split_dataset.dataset.supercell=[1,1,2]",
    "data.split_dataset.train=4",
    "data.split_dataset.val=2",
    "data.split_dataset.test=1",
    "data.train_dataloader.batch_size=2",
    "training_module.lr_scheduler.scheduler.patience=0",
    "+trainer.enable_progress_bar=false",
]


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _load(path):
    return torch.load(path, map_location="cpu", weights_only=True)


def test_restart_continues_exactly(tmp_path):
    one = run_config(ROOT / "configs", "tutorial", TINY + ["trainer.max_epochs=3"], tmp_path / "one")
    run_config(ROOT / "configs", "tutorial", TINY + ["trainer.max_epochs=2"], tmp_path / "first")
    ckpt = str(tmp_path / "first" / "last.ckpt")
    stats = _load(ckpt)[STATS_CHECKPOINT_KEY]
    assert "num_neighbors_mean" in stats
    second = run_config(
        ROOT / "configs", "tutorial", TINY + ["trainer.max_epochs=3", f"++ckpt_path={ckpt}"], tmp_path / "second"
    )
    assert second["trainer"].current_epoch == 3
    a, b = _load(tmp_path / "one" / "last.ckpt"), _load(tmp_path / "second" / "last.ckpt")
    assert a["epoch"] == b["epoch"] and a["global_step"] == b["global_step"]
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for name in a["state_dict"]:
        torch.testing.assert_close(a["state_dict"][name], b["state_dict"][name], rtol=0, atol=0, msg=name)
    for name in a["nequip_model"]["ema_state_dict"]:
        torch.testing.assert_close(
            a["nequip_model"]["ema_state_dict"][name], b["nequip_model"]["ema_state_dict"][name], rtol=0, atol=0
        )
    metrics_one = {k: float(v) for k, v in one["trainer"].callback_metrics.items()}
    metrics_two = {k: float(v) for k, v in second["trainer"].callback_metrics.items()}
    for name in ("val0_epoch/weighted_sum", "train_loss_epoch/weighted_sum", "val0_epoch/forces_mae"):
        assert metrics_two[name] == metrics_one[name], name
    # the restart used the stored statistics: same resolved model config
    from omegaconf import OmegaConf

    resolved = [OmegaConf.load(tmp_path / name / "resolved_config.yaml") for name in ("one", "second")]
    assert resolved[0].training_module.model == resolved[1].training_module.model


def test_atomic_checkpoint_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"x": torch.ones(2)}, str(path))

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("crash while writing")

    with pytest.raises(RuntimeError, match="crash while writing"):
        io.save_checkpoint({"x": torch.zeros(2), "bad": Unpicklable()}, str(path))
    assert torch.equal(_load(path)["x"], torch.ones(2))
    assert os.listdir(tmp_path) == ["last.ckpt"]
