"""The nequip-train CLI: the tutorial config end to end, resolvers, errors before training."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nequip.model import ModelFromCheckpoint
from nequip.train.cli import ConfigError, run_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_tutorial_command_short(tmp_path, tutorial_short_run):
    """`nequip-train -cp configs -cn tutorial` as a user runs it: the installed console script
    (the README's main command), shortened by overrides."""
    script = Path(sys.executable).parent / ("nequip-train.exe" if os.name == "nt" else "nequip-train")
    assert script.is_file(), f"the nequip-train console script is not installed next to {sys.executable}"
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [str(script), "-cp", "configs", "-cn", "tutorial", *tutorial_short_run, f"hydra.run.dir={out}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("best.ckpt", "last.ckpt", "resolved_config.yaml", "test_dataset0.xyz", "parity_dataset0.png"):
        assert (out / name).is_file(), sorted(os.listdir(out))
    assert "test0_epoch/forces_mae" in result.stdout
    # test after train uses the best checkpoint
    assert f"Restoring states from the checkpoint path at {out / 'best.ckpt'}" in result.stdout + result.stderr
    model = ModelFromCheckpoint(str(out / "best.ckpt"))
    assert model.type_names == ["Cu", "Au"]
    resolved = (out / "resolved_config.yaml").read_text()
    assert "training_data_stats" not in resolved and "avg_num_neighbors:" in resolved


def test_missing_statistic_stops_before_training_and_lists_names(tmp_path, tutorial_short_run):
    with pytest.raises(ConfigError) as err:
        run_config(
            CONFIGS,
            "tutorial",
            [*tutorial_short_run, "training_module.model.avg_num_neighbors=${training_data_stats:num_neighbours_mean}"],
            tmp_path,
        )
    message = str(err.value)
    assert "num_neighbours_mean" in message and "num_neighbors_mean" in message and "per_type_forces_rms" in message
    assert not (tmp_path / "last.ckpt").exists()


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["run=[train,predict]"], "unknown entries"),
        (["~trainer"], "lacks the section"),
        (["chemical_symbols=[Cu]", "data.split_dataset.dataset.element=[Cu,Au]"], "Au"),
        (
            [
                "+training_module.loss.extra_metrics=[{field: charges, metric: {_target_: nequip.train.MeanAbsoluteError}}]"
            ],
            "charges",
        ),
        (["training_module.model.pair_potential.chemical_species=[Cu]"], "chemical_species"),
    ],
)
def test_errors_before_training(tmp_path, overrides, match, tutorial_short_run):
    with pytest.raises(Exception) as err:
        run_config(CONFIGS, "tutorial", [*tutorial_short_run, *overrides], tmp_path)
    print(type(err.value).__name__, err.value)
    assert match in str(err.value), str(err.value)
    assert not (tmp_path / "last.ckpt").exists()


def test_resolvers():
    from omegaconf import OmegaConf

    from nequip.train.resolvers import register_resolvers

    register_resolvers()
    cfg = OmegaConf.create(
        {
            "a": 6,
            "m": "${int_mul:${a},3}",
            "d": "${int_div:${a},2}",
            "bad": "${int_div:${a},4}",
            "ident": "${list_to_identity_dict:[C,H]}",
        }
    )
    assert cfg.m == 18 and cfg.d == 3
    assert dict(cfg.ident) == {"C": "C", "H": "H"}
    with pytest.raises(Exception, match="does not divide"):
        _ = cfg.bad
