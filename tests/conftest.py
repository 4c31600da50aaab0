"""Shared fixtures of the cross-package tests."""

import pytest


@pytest.fixture(scope="session")
def tutorial_short_run():
    """Hydra overrides that shrink configs/tutorial.yaml to seconds: a tiny model, 8 frames, one epoch (a tuple: extend it as ``[*tutorial_short_run, ...]``)."""
    return (
        "trainer.max_epochs=1",
        "num_layers=1",
        "num_features=4",
        "data.split_dataset.dataset.num_frames=8",
        "data.split_dataset.dataset.supercell=[1,1,2]",
        "data.split_dataset.train=6",
        "data.split_dataset.val=1",
        "data.split_dataset.test=1",
        "+trainer.enable_progress_bar=false",
    )
