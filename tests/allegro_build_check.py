"""Run inside a venv made from our wheels and nequip-allegro: build AllegroModel and evaluate it.

Usage: python allegro_build_check.py ETHANOL_XYZ. Prints one line per model dtype.
"""

import sys

import allegro  # noqa: F401  (the import registers Allegro's compile target and packaging externs)
import ase.io
import torch
from allegro.model import AllegroModel

from nequip.data import AtomicDataDict
from nequip.data.ase import from_ase
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform
from nequip.scripts._compile_utils import compile_target

TYPE_NAMES = ["C", "H", "O"]
R_MAX = 5.0
#: the hyperparameters of Allegro's tutorial config (statistics replaced by fixed numbers)
HYPERPARAMETERS = dict(
    seed=456,
    type_names=TYPE_NAMES,
    r_max=R_MAX,
    l_max=2,
    parity=True,
    radial_chemical_embed={
        "_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
        "num_bessels": 8,
        "bessel_trainable": False,
        "polynomial_cutoff_p": 6,
    },
    radial_chemical_embed_dim=64,
    scalar_embed_mlp_hidden_layers_depth=1,
    scalar_embed_mlp_hidden_layers_width=64,
    scalar_embed_mlp_nonlinearity="silu",
    num_layers=2,
    num_scalar_features=64,
    num_tensor_features=32,
    allegro_mlp_hidden_layers_depth=2,
    allegro_mlp_hidden_layers_width=128,
    allegro_mlp_nonlinearity="silu",
    tp_path_channel_coupling=True,
    readout_mlp_hidden_layers_depth=1,
    readout_mlp_hidden_layers_width=32,
    readout_mlp_nonlinearity=None,
    avg_num_neighbors=8.0,
    per_type_energy_shifts={"C": -10.0, "H": -1.0, "O": -20.0},
    per_type_energy_scales=1.0,
)


def frame(atoms):
    data = ChemicalSpeciesToAtomTypeMapper(chemical_symbols=TYPE_NAMES)(from_ase(atoms))
    return NeighborListTransform(r_max=R_MAX)(data)


def energy(model, atoms) -> float:
    return float(model(frame(atoms))[AtomicDataDict.TOTAL_ENERGY_KEY].detach())


def main(path: str) -> None:
    assert compile_target("pair_allegro")["input"][0] == AtomicDataDict.POSITIONS_KEY
    atoms = ase.io.read(path, index=0)
    for dtype in ("float32", "float64"):
        model = AllegroModel(model_dtype=dtype, **HYPERPARAMETERS)
        out = model(frame(atoms))
        e, f = out[AtomicDataDict.TOTAL_ENERGY_KEY].detach(), out[AtomicDataDict.FORCE_KEY].detach()
        assert e.shape == (1, 1) and f.shape == (len(atoms), 3), (e.shape, f.shape)
        assert torch.isfinite(e).all() and torch.isfinite(f).all() and f.abs().max() > 0
        # forces = -dE/dr: central difference on one coordinate (every pair is within r_max)
        h = 1e-4 if dtype == "float64" else 1e-2
        plus, minus = atoms.copy(), atoms.copy()
        plus.positions[0, 0] += h
        minus.positions[0, 0] -= h
        fd = -(energy(model, plus) - energy(model, minus)) / (2 * h)
        tolerance = 1e-6 if dtype == "float64" else 5e-2
        assert abs(fd - float(f[0, 0])) <= tolerance * max(1.0, abs(fd)), (dtype, fd, float(f[0, 0]))
        print(dtype, sum(p.numel() for p in model.parameters()), next(model.parameters()).dtype)


if __name__ == "__main__":
    main(sys.argv[1])
