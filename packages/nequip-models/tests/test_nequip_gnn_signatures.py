"""NequIPGNNEnergyModel re-declares NequIPGNNModel's arguments: the two must stay in step."""

import inspect

from nequip.model import NequIPGNNEnergyModel, NequIPGNNModel


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
