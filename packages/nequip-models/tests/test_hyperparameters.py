"""Bad hyperparameters are clear errors at build time; one value equals a dict of that value."""

import math

import pytest
import torch

from nequip.data import keys
from nequip.model import NequIPGNNEnergyModel, NequIPGNNModel
from nequip.nn.testkit import random_bulk, random_cluster


@pytest.mark.parametrize(
    "change,match",
    [
        ({"num_features": [4, 4, 4]}, r"num_features as a list needs l_max \+ 1 = 2 entries.*got 3"),
        ({"num_features": 0}, r"num_features must be an integer >= 1, got 0"),
        ({"l_max": -1}, r"l_max must be an integer >= 0, got -1"),
        ({"num_layers": 0}, r"num_layers must be an integer >= 1, got 0"),
        ({"r_max": 0.0}, r"r_max must be a finite number > 0, got 0.0"),
        ({"r_max": -2}, r"r_max must be a finite number > 0, got -2"),
        ({"readout_mlp_nonlinearity": "relu6"}, r"readout_mlp_nonlinearity='relu6' is not allowed; allowed are"),
        (
            {"per_type_energy_shifts": {"H": 1.0}},
            r"per_type_energy_shifts must have exactly one entry.*missing \['O'\]",
        ),
        ({"per_type_energy_scales": {"H": 1.0, "O": 1.0, "C": 2.0}}, r"per_type_energy_scales.*unknown \['C'\]"),
        (
            {"per_type_energy_scales": [1.0, 2.0]},
            r"per_type_energy_scales must be a number or a dict.*lists are not accepted",
        ),
        ({"avg_num_neighbors": {"H": 3.0, "X": 3.0}}, r"avg_num_neighbors.*missing \['O'\], unknown \['X'\]"),
        ({"avg_num_neighbors": None}, r"avg_num_neighbors is required"),
        ({"avg_num_neighbors": -1.0}, r"avg_num_neighbors must be > 0"),
        (
            {"per_type_energy_shifts": {"H": 1.0, "O": math.nan}},
            r"per_type_energy_shifts\['O'\] = nan is not a finite number.*is 'O' absent",
        ),
        ({"per_type_energy_scales": {"H": math.inf, "O": 1.0}}, r"per_type_energy_scales\['H'\] = inf"),
        ({"avg_num_neighbors": {"H": 3.0, "O": math.nan}}, r"avg_num_neighbors\['O'\] = nan"),
        ({"per_type_energy_shifts": math.nan}, r"per_type_energy_shifts = nan"),
        ({"parity": "yes"}, r"parity must be true or false"),
        ({"polynomial_cutoff_p": 1}, r"polynomial_cutoff_p must be a number >= 2"),
        ({"radial_mlp_depth": -1}, r"radial_mlp_depth must be an integer >= 0"),
        (
            {"per_type_energy_scales": None, "per_type_energy_scales_trainable": True},
            r"per_type_energy_scales_trainable=True needs initial",
        ),
        ({"per_edge_type_cutoff": {"H": 4.0}}, r"per_edge_type_cutoff values must be in \(0, r_max=3.0\]"),
        ({"pair_potential": "ZBL"}, r"pair_potential must be a config dict with _target_"),
        ({"pair_potential": {"units": "metal"}}, r"pair_potential config needs a _target_"),
        (
            {"pair_potential": {"_target_": "torch.nn.Linear", "in_features": 1, "out_features": 1}},
            r"cannot build 'torch.nn.Linear'",
        ),
    ],
)
def test_bad_hyperparameters_are_clear_errors(tiny_kwargs, change, match):
    with pytest.raises(ValueError, match=match):
        NequIPGNNModel(**{**tiny_kwargs, **change})


def test_pair_potential_target_must_build_a_graph_module(tiny_kwargs):
    config = {"_target_": "torch.nn.Identity"}
    with pytest.raises(ValueError, match="built a Identity, not a graph module"):
        NequIPGNNModel(**{**tiny_kwargs, "pair_potential": config})


def test_one_value_equals_a_dict_of_that_value(tiny_kwargs):
    single = NequIPGNNModel(
        **{**tiny_kwargs, "per_type_energy_scales": 1.7, "per_type_energy_shifts": -2.5, "avg_num_neighbors": 3.5}
    )
    as_dict = NequIPGNNModel(
        **{
            **tiny_kwargs,
            "per_type_energy_scales": {"H": 1.7, "O": 1.7},
            "per_type_energy_shifts": {"O": -2.5, "H": -2.5},  # key order does not matter
            "avg_num_neighbors": {"H": 3.5, "O": 3.5},
        }
    )
    data = random_bulk(["H", "O"], 3.0, num_atoms=4)
    a, b = single(dict(data)), as_dict(dict(data))
    for field in (keys.TOTAL_ENERGY_KEY, keys.PER_ATOM_ENERGY_KEY, keys.FORCE_KEY, keys.STRESS_KEY):
        torch.testing.assert_close(a[field], b[field], rtol=1e-12, atol=1e-12)


def test_dataset_statistics_formats_are_accepted(tiny_kwargs):
    """Statistics managers return python floats and {type name: float} dicts; numpy and 0-d tensors also work."""
    import numpy as np

    model = NequIPGNNModel(
        **{
            **tiny_kwargs,
            "avg_num_neighbors": np.float32(3.0),
            "per_type_energy_scales": {"H": torch.tensor(1.2, dtype=torch.float64), "O": 0.8},
            "per_type_energy_shifts": np.float64(-3.0),
        }
    )
    assert model.model.func.per_type_energy_scale_shift.scales.view(-1).tolist() == pytest.approx([1.2, 0.8])


def test_energy_only_model_has_no_derivatives(tiny_kwargs):
    model = NequIPGNNEnergyModel(**tiny_kwargs)
    assert model.model_config["_target_"] == "nequip.model.NequIPGNNEnergyModel"
    out = model(random_cluster(["H", "O"], 3.0, num_atoms=4))
    assert keys.FORCE_KEY not in out and keys.STRESS_KEY not in out
    assert not out[keys.POSITIONS_KEY].requires_grad
    with pytest.raises(ValueError, match="do_derivatives"):
        NequIPGNNEnergyModel(**tiny_kwargs, do_derivatives=True)
