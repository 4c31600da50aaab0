"""Write the package-format test fixture: a small ``.nequip.zip`` of package format 1 and its reference numbers.

    uv run python tools/make_package_fixture.py

Writes into packages/nequip-models/tests/data/:

* ``package_format_1.nequip.zip``: a tiny float64 Cu/Au NequIPGNNModel with a ZBL term, its
  weights perturbed (as after training), its shifts changed by ``modify_PerTypeScaleShift``
  (so the stored config is a ``modify`` config around the builder's);
* ``package_format_1_reference.json``: a fixed structure with the energy, forces and stress
  that model gives.

The files are committed and never rewritten: ``tests/test_package.py`` checks that every
later version of the packages still reads this format-1 file and gives these numbers. A new
package format gets a new fixture beside this one.
"""

import json
import sys
from pathlib import Path

import ase.build
import numpy as np
import torch

from nequip.data import from_ase, keys
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform
from nequip.model import NequIPGNNModel, modify, save_package

OUT_DIR = Path(__file__).resolve().parents[1] / "packages" / "nequip-models" / "tests" / "data"
PACKAGE_NAME = "package_format_1.nequip.zip"
REFERENCE_NAME = "package_format_1_reference.json"
TYPE_NAMES = ["Cu", "Au"]
R_MAX = 4.0


def fixture_model() -> torch.nn.Module:
    model = NequIPGNNModel(
        seed=3,
        model_dtype="float64",
        type_names=TYPE_NAMES,
        r_max=R_MAX,
        num_layers=1,
        l_max=1,
        num_features=4,
        radial_mlp_width=8,
        avg_num_neighbors=20.0,
        per_type_energy_scales={"Cu": 0.4, "Au": 0.6},
        per_type_energy_shifts={"Cu": -3.5, "Au": -3.8},
        pair_potential={"_target_": "nequip.nn.pair_potential.ZBL", "units": "metal", "chemical_species": TYPE_NAMES},
    )
    generator = torch.Generator().manual_seed(11)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
    return modify(model, [{"modifier": "modify_PerTypeScaleShift", "shifts": {"Au": -4.1}}])


def reference_atoms():
    atoms = ase.build.bulk("Cu", "fcc", a=3.7, cubic=True).repeat((2, 1, 1))
    atoms.symbols[[1, 6]] = "Au"
    atoms.positions += np.random.default_rng(5).normal(scale=0.1, size=atoms.positions.shape)
    return atoms


def predictions(model: torch.nn.Module, atoms) -> dict:
    data = NeighborListTransform(R_MAX)(ChemicalSpeciesToAtomTypeMapper(TYPE_NAMES)(from_ase(atoms)))
    out = model.eval()(data)
    return {
        "energy": float(out[keys.TOTAL_ENERGY_KEY].item()),
        "forces": out[keys.FORCE_KEY].detach().tolist(),
        "stress": out[keys.STRESS_KEY].detach().reshape(3, 3).tolist(),
    }


def main() -> int:
    package, reference = OUT_DIR / PACKAGE_NAME, OUT_DIR / REFERENCE_NAME
    if package.exists() or reference.exists():
        print(f"{package} or {reference} exists: the fixture of a released format is never rewritten")
        return 1
    model = fixture_model()
    save_package(str(package), model)
    atoms = reference_atoms()
    frame = {
        "symbols": atoms.get_chemical_symbols(),
        "positions": atoms.positions.tolist(),
        "cell": atoms.cell.array.tolist(),
        "pbc": [bool(p) for p in atoms.pbc],
        **predictions(model, atoms),
    }
    reference.write_text(json.dumps({"package_format_version": 1, "frames": [frame]}, indent=1) + "\n")
    print(f"wrote {package} ({package.stat().st_size / 1024:.0f} KiB) and {reference}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
