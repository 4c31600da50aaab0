"""NequIPGNNEnergyModel takes NequIPGNNModel's arguments; NequIPGNNModel passes its convnet
arguments to FullNequIPGNNModel as upstream does: the signatures stay in step."""

import inspect

import pytest
from e3nn.nn import NormActivation

from nequip.data import AtomicDataDict, keys
from nequip.model import FullNequIPGNNModel, NequIPGNNEnergyModel, NequIPGNNModel
from nequip.nn.convnet import ConvNetLayer
from nequip.nn.testkit import random_cluster

#: NequIPGNNModel's arguments that FullNequIPGNNModel takes under the same name and meaning
PASSED_THROUGH = (
    "r_max",
    "type_names",
    "readout_mlp_hidden_layers_depth",
    "readout_mlp_hidden_layers_width",
    "readout_mlp_nonlinearity",
    "per_edge_type_cutoff",
    "num_bessels",
    "bessel_trainable",
    "polynomial_cutoff_p",
    "avg_num_neighbors",
    "per_type_energy_scales",
    "per_type_energy_shifts",
    "per_type_energy_scales_trainable",
    "per_type_energy_shifts_trainable",
    "pair_potential",
    "do_derivatives",
    "convnet_sc",
    "learnable_shift",
    "convnet_resnet",
    "convnet_nonlinearity_type",
    "convnet_nonlinearity_scalars",
    "convnet_nonlinearity_gates",
)


def test_energy_model_takes_every_argument_of_the_gnn_model_but_do_derivatives():
    full = dict(inspect.signature(NequIPGNNModel).parameters)
    energy = dict(inspect.signature(NequIPGNNEnergyModel).parameters)
    assert full.pop("do_derivatives").default is True
    assert list(energy) == list(full)  # same names, same order
    for name, parameter in full.items():
        other = energy[name]
        assert (other.kind, other.default, other.annotation) == (
            parameter.kind,
            parameter.default,
            parameter.annotation,
        ), name


def test_gnn_model_passes_the_full_model_s_arguments_through():
    gnn = inspect.signature(NequIPGNNModel).parameters
    full = inspect.signature(FullNequIPGNNModel).parameters
    own = {"num_layers", "l_max", "parity", "num_features", "type_embed_num_features"}
    own |= {"radial_mlp_depth", "radial_mlp_width", "seed", "model_dtype", "compile_mode"}
    assert set(gnn) - own == set(PASSED_THROUGH)
    for name in PASSED_THROUGH:
        assert gnn[name].default == full[name].default, name


def _isolated_atom_energy(model):
    data = AtomicDataDict.with_batch_(random_cluster(["H", "O"], 3.0, num_atoms=1, seed=0))
    return float(model(data)[keys.TOTAL_ENERGY_KEY].detach())


def test_convnet_arguments_reach_the_layers(tiny_kwargs):
    default = NequIPGNNModel(**tiny_kwargs)
    changed = NequIPGNNModel(
        **tiny_kwargs,
        convnet_sc=False,
        convnet_resnet=True,
        convnet_nonlinearity_type="norm",
        convnet_nonlinearity_scalars={"e": "ssp", "o": "tanh"},
    )
    layers = [m for m in changed.modules() if isinstance(m, ConvNetLayer)]
    default_layers = [m for m in default.modules() if isinstance(m, ConvNetLayer)]
    assert len(layers) == 2
    assert all(isinstance(layer.equivariant_nonlin, NormActivation) for layer in layers)
    assert all(layer.conv.sc is None for layer in layers)
    assert default_layers[1].conv.sc is not None and default_layers[0].conv.sc is None
    with pytest.raises(ValueError, match="convnet_nonlinearity_type='softmax'"):
        NequIPGNNModel(**tiny_kwargs, convnet_nonlinearity_type="softmax")


def test_learnable_shift_lets_isolated_atoms_leave_their_shift(tiny_kwargs):
    shift = tiny_kwargs["per_type_energy_shifts"]
    fixed = NequIPGNNModel(**tiny_kwargs)
    learnable = NequIPGNNModel(**tiny_kwargs, learnable_shift=True)
    data_type = int(random_cluster(["H", "O"], 3.0, num_atoms=1, seed=0)[keys.ATOM_TYPE_KEY][0])
    expected = shift[["H", "O"][data_type]]
    assert _isolated_atom_energy(fixed) == pytest.approx(expected, abs=1e-12)
    assert abs(_isolated_atom_energy(learnable) - expected) > 1e-6
    assert [m for m in learnable.modules() if isinstance(m, ConvNetLayer)][0].conv.sc is not None
    with pytest.raises(ValueError, match="learnable_shift=True needs convnet_sc=True or convnet_resnet=True"):
        NequIPGNNModel(**tiny_kwargs, learnable_shift=True, convnet_sc=False)
