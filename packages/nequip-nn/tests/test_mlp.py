"""Scalar MLPs and the nonlinearity table."""

import doctest

import pytest
import torch

import nequip.nn.mlp as mlp_module
from nequip.data import keys
from nequip.nn.mlp import NONLINEARITIES, ScalarMLP, ScalarMLPFunction, nonlinearity_module


def test_docstring_examples():
    result = doctest.testmod(mlp_module, extraglobs={"torch": torch})
    assert result.attempted > 0 and result.failed == 0


def test_unknown_nonlinearity_lists_allowed_names():
    with pytest.raises(
        ValueError, match=r"nonlinearity='relu6' is not allowed; allowed are \[None, 'None', 'null', 'silu'"
    ):
        ScalarMLPFunction(3, 1, hidden_layers_depth=1, hidden_layers_width=4, nonlinearity="relu6")
    assert isinstance(nonlinearity_module("ssp"), torch.nn.Module)
    for name in NONLINEARITIES:
        nonlinearity_module(name)


def test_structure_bias_and_init():
    torch.manual_seed(0)
    mlp = ScalarMLPFunction(64, 8, hidden_layers_depth=2, hidden_layers_width=256, nonlinearity="silu")
    assert mlp.dims == [64, 256, 256, 8]
    assert all(p.dim() == 2 for p in mlp.parameters())  # no biases
    x = torch.randn(4000, 64)
    assert 0.5 < float(mlp(x).detach().std()) < 2.0  # variance-preserving init
    with_bias = ScalarMLPFunction(3, 2, bias=True)
    assert sum(p.dim() == 1 for p in with_bias.parameters()) == 1
    # without bias, zero in -> zero out (the energy path of an isolated atom)
    assert bool((mlp(torch.zeros(2, 64)) == 0).all())
    linear = ScalarMLPFunction(3, 2, hidden_layers_depth=1, hidden_layers_width=4, nonlinearity=None)
    x = torch.randn(5, 3)
    torch.testing.assert_close(linear(2 * x), 2 * linear(x))
    with pytest.raises(ValueError, match="hidden_layers_width"):
        ScalarMLPFunction(3, 2, hidden_layers_depth=1)
    with pytest.raises(ValueError, match="output_dim"):
        ScalarMLPFunction(3, 0)


def test_scalar_mlp_graph_module():
    m = ScalarMLP(
        1, field=keys.NODE_FEATURES_KEY, out_field=keys.PER_ATOM_ENERGY_KEY, irreps_in={keys.NODE_FEATURES_KEY: "6x0e"}
    )
    assert str(m.irreps_out[keys.PER_ATOM_ENERGY_KEY]) == "1x0e"
    out = m({keys.NODE_FEATURES_KEY: torch.randn(3, 6)})
    assert out[keys.PER_ATOM_ENERGY_KEY].shape == (3, 1)
    with pytest.raises(ValueError, match="even scalars 'Nx0e', got 2x0e\\+1x1o"):
        ScalarMLP(1, irreps_in={keys.NODE_FEATURES_KEY: "2x0e+1x1o"})


def test_output_order_permutes_the_last_layer_not_the_parameters():
    kwargs = dict(hidden_layers_depth=1, hidden_layers_width=4, bias=True)
    torch.manual_seed(0)
    mlp = ScalarMLPFunction(3, 5, **kwargs)
    order = torch.tensor([4, 0, 3, 1, 2])
    torch.manual_seed(0)
    ordered = ScalarMLPFunction(3, 5, output_order=order, **kwargs)
    x = torch.randn(7, 3, dtype=torch.float64).to(torch.get_default_dtype())
    torch.testing.assert_close(ordered(x), mlp(x)[:, order], rtol=0, atol=1e-12)
    assert mlp.state_dict().keys() == ordered.state_dict().keys()
    assert all(torch.equal(mlp.state_dict()[k], v) for k, v in ordered.state_dict().items())
    with pytest.raises(ValueError, match="output_order must be a permutation of range\\(5\\)"):
        ScalarMLPFunction(3, 5, output_order=torch.tensor([0, 0, 1, 2, 3]))


@pytest.mark.parametrize("parametrization", ["weight_norm", "spectral_norm", "orthogonal"])
def test_parametrizations_and_init_modes(parametrization):
    """Upstream's init_mode and parametrization options: same outputs shape, weights under a parametrization."""
    torch.manual_seed(0)
    mlp = ScalarMLPFunction(3, 2, hidden_layers_depth=1, hidden_layers_width=4, parametrization=parametrization)
    assert mlp.is_nonlinear and mlp.num_layers == 2
    assert all(torch.nn.utils.parametrize.is_parametrized(layer, "weight") for layer in mlp.mlp[::2])
    assert mlp(torch.randn(5, 3)).shape == (5, 2)
    torch.manual_seed(0)
    normal = ScalarMLPFunction(2000, 1, init_mode="normal")
    weight = normal.mlp[0].weight.detach()
    assert abs(float(weight.std()) - 1.0) < 0.05 and float(weight.abs().max()) > 3**0.5  # not uniform
    assert not normal.is_nonlinear
    with pytest.raises(ValueError, match="init_mode='gaussian' is not allowed"):
        ScalarMLPFunction(3, 2, init_mode="gaussian")
    with pytest.raises(ValueError, match="parametrization='batch_norm' is not allowed"):
        ScalarMLPFunction(3, 2, parametrization="batch_norm")
