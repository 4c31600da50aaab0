"""NequIP models with a ZBL pair potential (nequip-models + nequip-potentials).

The pair potential is given as a hydra-style config, instantiated by the model builder
with the model's type_names and the fields written before it (its cutoff then comes from
the normalized edge lengths, per-edge-type cutoffs included).
"""

import pytest
import torch

from nequip.data import keys
from nequip.model import ModelFromCheckpoint, NequIPGNNModel, save_model_checkpoint
from nequip.nn.pair_potential import ZBL
from nequip.nn.testkit import check_all, evaluate, random_bulk, random_cluster

torch.set_num_threads(1)

TYPES = ["H", "O"]
R_MAX = 3.0
SHIFTS = {"H": -1.5, "O": -4.0}
ZBL_CONFIG = {"_target_": "nequip.nn.pair_potential.ZBL", "units": "metal", "chemical_species": ["H", "O"]}


def _model(model_dtype="float64", **changes):
    kwargs = dict(
        seed=0,
        model_dtype=model_dtype,
        type_names=TYPES,
        r_max=R_MAX,
        num_layers=2,
        l_max=1,
        num_features=4,
        radial_mlp_width=8,
        avg_num_neighbors={"H": 3.0, "O": 2.5},
        per_type_energy_scales={"H": 0.5, "O": 1.5},
        per_type_energy_shifts=SHIFTS,
        pair_potential=dict(ZBL_CONFIG),
    )
    kwargs.update(changes)
    return NequIPGNNModel(**kwargs)


@pytest.mark.parametrize("model_dtype", ["float64", "float32"])
def test_physics_kit_passes_with_zbl(model_dtype):
    model = _model(model_dtype)
    assert isinstance(model.model.func.pair_potential, ZBL)
    check_all(model, TYPES, R_MAX, SHIFTS)


def test_zbl_term_is_added_with_the_models_cutoff():
    """E(model with ZBL) - E(same weights without) = ZBL pair energy with r_max as cutoff."""
    with_zbl, without = _model(), _model(pair_potential=None)
    reference = ZBL(units="metal", chemical_species=TYPES, r_max=R_MAX)
    for data in (random_cluster(TYPES, R_MAX, num_atoms=5), random_bulk(TYPES, R_MAX, num_atoms=3)):
        difference = (
            evaluate(with_zbl, data)[keys.PER_ATOM_ENERGY_KEY] - evaluate(without, data)[keys.PER_ATOM_ENERGY_KEY]
        )
        expected = reference(dict(data))[keys.PER_ATOM_ENERGY_KEY]
        torch.testing.assert_close(difference, expected, rtol=1e-10, atol=1e-12)
        assert float(expected.abs().max()) > 1e-3


def test_zbl_follows_per_edge_type_cutoffs():
    cutoffs = {"H": {"H": 2.0, "O": 2.5}, "O": 3.0}
    model = _model(per_edge_type_cutoff=cutoffs)
    check_all(model, TYPES, R_MAX, SHIFTS)


def test_isolated_atoms_and_built_module(tmp_path):
    """A built ZBL module is accepted too; a ZBL config survives a checkpoint round trip."""
    built = _model(pair_potential=ZBL(units="metal", chemical_species=TYPES, r_max=R_MAX))
    data = random_cluster(TYPES, R_MAX, num_atoms=5)
    torch.testing.assert_close(
        evaluate(built, data)[keys.TOTAL_ENERGY_KEY], evaluate(_model(), data)[keys.TOTAL_ENERGY_KEY]
    )
    model = _model()
    path = tmp_path / "zbl.ckpt"
    save_model_checkpoint(str(path), model)
    loaded = ModelFromCheckpoint(str(path))
    assert loaded.model_config["pair_potential"] == ZBL_CONFIG
    assert torch.equal(evaluate(loaded, data)[keys.FORCE_KEY], evaluate(model, data)[keys.FORCE_KEY])


def test_zbl_config_errors_are_clear():
    with pytest.raises(ValueError, match="chemical_species has 1 entries"):
        _model(pair_potential={**ZBL_CONFIG, "chemical_species": ["H"]})
    with pytest.raises(ValueError, match="units"):
        _model(pair_potential={**ZBL_CONFIG, "units": "si"})
