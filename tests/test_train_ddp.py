"""Lightning's own DDP: 2 CPU processes (gloo) train, and their epoch metrics equal a 1-process run."""

import csv
import glob
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nequip.train.cli import run_config

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "num_layers=1",
    "num_features=4",
    "data.split_dataset.dataset.num_frames=9",
    "data.split_dataset.dataset.supercell=[1,1,2]",
    "data.split_dataset.train=4",
    "data.split_dataset.val=4",
    "data.split_dataset.test=1",
    "data.train_dataloader.batch_size=2",
    "data.val_dataloader.batch_size=2",
    "trainer.max_epochs=1",
    "+trainer.enable_progress_bar=false",
    "run=[val,train]",
]


def _val_metrics(out: Path):
    """The val0_epoch/* values of the first validation (before training) in the CSV log."""
    path = glob.glob(str(out / "tutorial" / "*" / "metrics.csv"))[0]
    with open(path) as handle:
        for row in csv.DictReader(handle):
            values = {k: float(v) for k, v in row.items() if k.startswith("val0_epoch/") and v}
            if values:
                return values
    raise AssertionError(f"no val0_epoch metrics in {path}")


def test_ddp_two_cpu_processes_match_one_process(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "ddp"
    # a rendezvous left in the environment by an earlier in-process run must not pin the port
    rendezvous = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "LOCAL_RANK", "NODE_RANK")
    env = {**{k: v for k, v in os.environ.items() if k not in rendezvous}, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "nequip.train.cli",
            "-cp",
            "configs",
            "-cn",
            "tutorial",
            *SMALL,
            "+trainer.strategy=ddp",
            "+trainer.devices=2",
            f"hydra.run.dir={out}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in result.stderr + result.stdout
    ddp = _val_metrics(out)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run_config(ROOT / "configs", "tutorial", SMALL, tmp_path / "single")
    finally:
        torch.set_num_threads(threads)
    one = _val_metrics(tmp_path / "single")
    assert ddp.keys() == one.keys()
    for name in one:
        assert ddp[name] == pytest.approx(one[name], rel=1e-6), name

    # it trained: the saved weights differ from the initial model's
    last = torch.load(out / "last.ckpt", map_location="cpu", weights_only=True)
    from nequip.data.instantiation import instantiate

    fresh = instantiate({**last["nequip_model"]["config"], "_recursive_": False})
    changed = [n for n, t in fresh.state_dict().items() if not torch.equal(t, last["nequip_model"]["state_dict"][n])]
    assert changed
