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


# --- Cu/Au alloys and a tiny Cu/Au model, for the calculator, export and MD tests ---
CUAU_TYPES = ["Cu", "Au"]


def _cuau_model(**overrides):
    from nequip.model import NequIPGNNModel

    kwargs = dict(
        seed=1,
        model_dtype="float64",
        type_names=CUAU_TYPES,
        r_max=4.0,
        num_layers=2,
        l_max=1,
        num_features=4,
        radial_mlp_width=8,
        avg_num_neighbors=30.0,
        per_type_energy_scales=0.3,
        per_type_energy_shifts={"Cu": -3.5, "Au": -3.8},
    )
    kwargs.update(overrides)
    return NequIPGNNModel(**kwargs).eval()


def _cuau_atoms(repeat=(2, 2, 2), seed=0, rattle=0.1):
    import ase.build
    import numpy as np

    atoms = ase.build.bulk("Cu", "fcc", a=3.75, cubic=True).repeat(repeat)
    rng = np.random.default_rng(seed)
    atoms.set_chemical_symbols(list(rng.choice(CUAU_TYPES, size=len(atoms))))
    atoms.positions += rng.normal(scale=rattle, size=atoms.positions.shape)
    return atoms


@pytest.fixture(scope="session")
def cuau_model():
    """``cuau_model(**overrides)``: a tiny eval-mode float64 NequIPGNNModel for Cu/Au (r_max 4 Å, 2 layers, 4 features)."""
    return _cuau_model


@pytest.fixture(scope="session")
def cuau_atoms():
    """``cuau_atoms(repeat=(2, 2, 2), seed=0, rattle=0.1)``: random Cu/Au fcc alloy (4-atom cubic cell repeated), rattled (Å)."""
    return _cuau_atoms
