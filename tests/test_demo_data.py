"""The README's main job (the data pipeline demo) runs and its statistics are sane."""

import importlib.util
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_demo_data_runs(capsys):
    spec = importlib.util.spec_from_file_location("demo_data", REPO / "tools" / "demo_data.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    stats = demo.main()
    out = capsys.readouterr().out
    assert "frames per split: {'train': 40, 'val': 5, 'test': 5}" in out
    assert set(stats["per_type_forces_rms"]) == {"Cu", "Au"}
    assert stats["num_neighbors_mean"] == pytest.approx(stats["per_type_num_neighbors_mean"]["Cu"], rel=0.05)
    assert stats["forces_rms"] > 0
