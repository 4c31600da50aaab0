"""Test settings for nequip-models: one torch thread (the tests run many tiny operations on a
shared machine) and the hyperparameters of a tiny, fast NequIP model."""

import pytest
import torch

torch.set_num_threads(1)

TYPES = ["H", "O"]
R_MAX = 3.0
SHIFTS = {"H": -1.5, "O": -4.0}


@pytest.fixture
def tiny_kwargs():
    """Builder arguments of a tiny NequIPGNNModel (2 layers, 4 features, radial MLP 8 wide)."""
    return dict(
        seed=0,
        model_dtype="float64",
        type_names=list(TYPES),
        r_max=R_MAX,
        num_layers=2,
        l_max=1,
        num_features=4,
        radial_mlp_width=8,
        avg_num_neighbors=3.0,
        per_type_energy_scales=1.3,
        per_type_energy_shifts=dict(SHIFTS),
    )
