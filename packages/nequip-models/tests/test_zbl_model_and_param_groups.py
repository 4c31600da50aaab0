"""ZBLPairPotential against upstream NequIP 0.19.1's numbers; MuonParamGroups' split of the parameters."""

import doctest

import ase
import torch

import nequip.model.param_groups as param_groups_module
import nequip.model.zbl_pair_potential as zbl_module
from nequip.data import from_ase, keys
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform
from nequip.model import MuonParamGroups, NequIPGNNModel, ZBLPairPotential

# upstream's ZBLPairPotential(seed=0, model_dtype="float64", type_names=["H", "O"], r_max=3.0,
# chemical_species=["H", "O"], units="metal") on the structure below (eV, eV/Å), computed with
# nequip==0.19.1 in a throwaway environment
UPSTREAM_ENERGY = 12.057171366252136
UPSTREAM_FORCES = [
    [-16.410183070066815, -18.84098303706718, 0.16838329534861018],
    [19.27125524585634, 1.6681908144126143, 1.0101948357309776],
    [-5.3725828668244615, 13.88563765212015, -3.260856941799985],
    [2.511510691034932, 3.2871545705344176, 2.0822788107203976],
]


def test_docstring_examples():
    for module in (zbl_module, param_groups_module):
        assert doctest.testmod(module, raise_on_error=True).attempted > 0


def test_zbl_pair_potential_matches_upstream():
    model = ZBLPairPotential(
        seed=0, model_dtype="float64", type_names=["H", "O"], r_max=3.0, chemical_species=["H", "O"], units="metal"
    ).eval()
    assert model.model_config["_target_"] == "nequip.model.ZBLPairPotential"
    atoms = ase.Atoms("OH2O", positions=[[0, 0, 0], [0.9, 0.2, 0.1], [-0.3, 0.95, -0.2], [1.5, 1.4, 0.8]])
    data = NeighborListTransform(3.0)(ChemicalSpeciesToAtomTypeMapper(["H", "O"])(from_ase(atoms)))
    out = model(data)
    torch.testing.assert_close(out[keys.TOTAL_ENERGY_KEY].item(), UPSTREAM_ENERGY, rtol=1e-12, atol=0)
    expected = torch.tensor(UPSTREAM_FORCES, dtype=torch.float64)
    torch.testing.assert_close(out[keys.FORCE_KEY], expected, rtol=1e-12, atol=1e-12)


def test_muon_groups_partition_the_trainable_parameters(tiny_kwargs):
    model = NequIPGNNModel(**tiny_kwargs, per_type_energy_shifts_trainable=True)
    muon, other = MuonParamGroups(model, muon={"lr": 0.02}, adam={"lr": 1e-3, "betas": (0.9, 0.95)})
    assert muon["use_muon"] and not other["use_muon"] and other["betas"] == (0.9, 0.95)
    names = {id(p): name for name, p in model.named_parameters()}
    muon_names = [names[id(p)] for p in muon["params"]]
    other_names = [names[id(p)] for p in other["params"]]
    assert sorted(muon_names + other_names) == sorted(names.values())
    # Muon: radial-MLP matrices and equivariant linear maps of the interaction layers
    assert all("_convnet.conv.edge_mlp." in n or "_convnet.conv.linear_" in n for n in muon_names)
    assert all(
        n.endswith(("type_embed.embedding.weight", ".sc.weight", "shifts", ".mlp.0.weight")) for n in other_names
    )
    for index, slices in muon["e3nn_reshaping"].items():
        weight = muon["params"][index]
        assert weight.ndim == 1 and sum(rows * cols for _, (rows, cols) in slices) == weight.numel()
        assert slices[0][0][0] == 0 and slices[-1][0][1] == weight.numel()
