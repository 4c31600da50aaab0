"""NequIPCalculator: same numbers as a direct model call, ASE's stress convention, units, species maps, checkpoints."""

import doctest
import subprocess
import sys

import numpy as np
import pytest
import torch
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.emt import EMT

import nequip.integrations.ase as ase_integration
from nequip.data import from_ase, keys
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform
from nequip.integrations.ase import NequIPCalculator
from nequip.model import save_model_checkpoint


def direct(model, atoms):
    """The model called by hand on the frame: nequip-data conversion, type mapping, neighbor list."""
    atoms = atoms.copy()  # without its calculator's results
    data = NeighborListTransform(model.r_max)(ChemicalSpeciesToAtomTypeMapper(model.type_names)(from_ase(atoms)))
    return model(data)


R_MAX = 4.0


@pytest.fixture(scope="module")
def model(cuau_model):
    return cuau_model()


def test_calculator_equals_direct_model_call(model, cuau_atoms):
    """Periodic alloy (triclinic cell) and an isolated cluster: energy, per-atom energies, forces, stress."""
    periodic = cuau_atoms()
    periodic.set_cell(periodic.cell.array + np.array([[0, 0.3, 0], [0, 0, 0.2], [0.1, 0, 0]]), scale_atoms=True)
    cluster = cuau_atoms(repeat=(1, 1, 1), seed=3)
    cluster.pbc, cluster.cell = False, np.zeros((3, 3))
    calc = NequIPCalculator(model)
    for atoms in (periodic, cluster):
        atoms.calc = calc
        out = direct(model, atoms)
        assert atoms.get_potential_energy() == pytest.approx(float(out[keys.TOTAL_ENERGY_KEY].detach()), rel=1e-12)
        assert atoms.get_potential_energy(force_consistent=True) == atoms.get_potential_energy()
        np.testing.assert_allclose(
            atoms.get_potential_energies(), out[keys.PER_ATOM_ENERGY_KEY].view(-1).detach().numpy(), rtol=1e-12
        )
        np.testing.assert_allclose(atoms.get_forces(), out[keys.FORCE_KEY].detach().numpy(), rtol=1e-12, atol=1e-14)
        assert np.abs(atoms.get_forces()).max() > 1e-3
    stress = direct(model, periodic)[keys.STRESS_KEY].view(3, 3).numpy()
    np.testing.assert_allclose(periodic.get_stress(voigt=False), stress, rtol=1e-12, atol=1e-15)
    with pytest.raises(PropertyNotImplementedError):
        cluster.get_stress()  # no cell, no stress


def _finite_difference_stress(atoms, h=1e-5):
    """sigma_ij = (1/V) dE/d(eps_ij) by central differences of the energy under symmetric strain."""
    cell, volume = atoms.cell.array.copy(), atoms.get_volume()
    stress = np.zeros((3, 3))
    for i in range(3):
        for j in range(3):
            energies = []
            for sign in (1, -1):
                strain = np.eye(3)
                strain[i, j] += sign * h / 2
                strain[j, i] += sign * h / 2
                strained = atoms.copy()
                strained.calc = atoms.calc
                strained.set_cell(cell @ strain, scale_atoms=True)
                energies.append(strained.get_potential_energy())
            stress[i, j] = (energies[0] - energies[1]) / (2 * h) / volume
    return stress


def test_stress_is_finite_difference_of_energy_with_ases_sign(model, cuau_atoms):
    """The finite-difference formula has ASE's sign (checked on EMT); ours matches it, compressed or stretched."""
    reference = cuau_atoms(repeat=(1, 1, 1), seed=5)
    reference.calc = EMT()
    np.testing.assert_allclose(_finite_difference_stress(reference), reference.get_stress(voigt=False), atol=1e-7)
    for scale in (0.97, 1.04):
        atoms = cuau_atoms(repeat=(2, 1, 1), seed=6)
        atoms.set_cell(atoms.cell.array * scale, scale_atoms=True)
        atoms.calc = NequIPCalculator(model)
        expected = _finite_difference_stress(atoms)
        np.testing.assert_allclose(
            atoms.get_stress(voigt=False), expected, atol=1e-8 * max(1.0, np.abs(expected).max())
        )
        assert np.abs(expected).max() > 1e-4


def test_mixed_and_no_pbc_equal_periodic_cells_with_vacuum(model, cuau_atoms):
    """A slab (pbc T, T, F) and a molecule give the results of fully periodic cells with > r_max of vacuum."""
    slab = cuau_atoms(repeat=(2, 2, 1), seed=7)
    slab.pbc = (True, True, False)
    padded = slab.copy()
    padded.pbc = True
    padded.cell[2, 2] += 2 * R_MAX
    molecule = cuau_atoms(repeat=(1, 1, 1), seed=8)
    molecule.pbc, molecule.cell = False, np.zeros((3, 3))
    boxed = molecule.copy()
    boxed.pbc, boxed.cell = True, np.eye(3) * (10 + 2 * R_MAX)
    for open_atoms, closed in ((slab, padded), (molecule, boxed)):
        open_atoms.calc, closed.calc = NequIPCalculator(model), NequIPCalculator(model)
        assert open_atoms.get_potential_energy() == pytest.approx(closed.get_potential_energy(), rel=1e-12)
        np.testing.assert_allclose(open_atoms.get_forces(), closed.get_forces(), atol=1e-12)
    np.testing.assert_allclose(
        slab.get_stress(), padded.get_stress() * padded.get_volume() / slab.get_volume(), atol=1e-12
    )


def test_unit_factors(model, cuau_atoms):
    """A model in half-Å length units and 2 eV energy units, fed Å positions, is the model on doubled positions."""
    atoms = cuau_atoms(repeat=(1, 1, 2), seed=9)
    reference = atoms.copy()
    reference.set_cell(atoms.cell.array * 2, scale_atoms=True)
    reference.calc = NequIPCalculator(model)
    atoms.calc = NequIPCalculator(model, energy_units_to_eV=2.0, length_units_to_A=0.5)
    assert atoms.get_potential_energy() == pytest.approx(2 * reference.get_potential_energy(), rel=1e-12)
    np.testing.assert_allclose(atoms.get_forces(), 4 * reference.get_forces(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(atoms.get_stress(), 16 * reference.get_stress(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="length_units_to_A must be positive, got 0"):
        NequIPCalculator(model, length_units_to_A=0)


def test_species_map_and_its_errors(cuau_model, cuau_atoms):
    """Type names that are not elements need a map; unmapped species are named with the model's type names."""
    model = cuau_model(type_names=["metalA", "metalB"], per_type_energy_shifts={"metalA": -3.5, "metalB": -3.8})
    with pytest.raises(ValueError, match="'metalA' is not a chemical symbol"):
        NequIPCalculator(model)
    calc = NequIPCalculator(model, chemical_species_to_atom_type_map={"Cu": "metalA", "Au": "metalB"})
    assert NequIPCalculator(cuau_model(), chemical_species_to_atom_type_map=True).transforms[
        0
    ].chemical_species_to_atom_type_map == {"Cu": "Cu", "Au": "Au"}
    atoms = cuau_atoms(repeat=(1, 1, 1))
    atoms.calc = calc
    renamed = cuau_model()
    assert atoms.get_potential_energy() == pytest.approx(
        float(direct(renamed, atoms)[keys.TOTAL_ENERGY_KEY].detach()), rel=1e-12
    )
    atoms[0].symbol = "Fe"
    with pytest.raises(ValueError, match=r"species \['Fe'\].*type_names are \['metalA', 'metalB'\]"):
        atoms.get_potential_energy()
    with pytest.raises(ValueError, match="maps 'Cu' to 'Ag', which is not in model_type_names"):
        NequIPCalculator(model, chemical_species_to_atom_type_map={"Cu": "Ag"})
    with pytest.raises(ValueError, match="not both"):
        NequIPCalculator(model, transforms=[], chemical_species_to_atom_type_map={"Cu": "metalA"})
    with pytest.raises(ValueError, match="training mode"):
        NequIPCalculator(model.train())


def test_from_checkpoint_uses_ema_weights(model, tmp_path, cuau_model, cuau_atoms):
    """The EMA weights of a checkpoint, not its raw weights, make the calculator's numbers."""
    ema = {name: value + 0.05 * torch.randn_like(value) for name, value in model.named_parameters()}
    path = str(tmp_path / "model.ckpt")
    save_model_checkpoint(path, model, ema_state_dict=ema)
    calc = NequIPCalculator.from_checkpoint(path)
    assert not calc.model.training and not any(p.requires_grad for p in calc.model.parameters())
    ema_model = cuau_model()
    ema_model.load_state_dict(ema, strict=False)
    atoms = cuau_atoms(seed=11)
    atoms.calc = calc
    energy = atoms.get_potential_energy()
    assert energy == pytest.approx(float(direct(ema_model, atoms)[keys.TOTAL_ENERGY_KEY].detach()), rel=1e-12)
    assert abs(energy - float(direct(model, atoms)[keys.TOTAL_ENERGY_KEY].detach())) > 1e-4
    np.testing.assert_allclose(
        atoms.get_forces(), direct(ema_model, atoms)[keys.FORCE_KEY].numpy(), rtol=1e-10, atol=1e-12
    )


def test_from_checkpoint_compiled_matches_eager(model, tmp_path, cuau_atoms):
    """compile_mode='compile': the traced single-frame graph (dynamo backend ``eager`` here, to keep
    the test cheap; inductor is timed by tools/bench_md.py) gives the eager calculator's numbers
    for two cell sizes from one graph."""
    path = str(tmp_path / "model.ckpt")
    save_model_checkpoint(path, model)
    eager = NequIPCalculator.from_checkpoint(path)
    compiled = NequIPCalculator.from_checkpoint(path, compile_mode="compile")
    compiled.model.compile_backend = "eager"
    for seed, repeat in ((3, (1, 1, 1)), (4, (2, 1, 1))):
        atoms = cuau_atoms(seed=seed, repeat=repeat)
        expected = eager.get_property("forces", atoms).copy(), eager.get_property("energy", atoms)
        forces, energy = compiled.get_property("forces", atoms), compiled.get_property("energy", atoms)
        np.testing.assert_allclose(forces, expected[0], rtol=1e-10, atol=1e-12)
        assert energy == pytest.approx(expected[1], rel=1e-12)
    assert compiled.model.compile_disabled_reason is None and len(compiled.model._variants) == 1


def test_import_needs_neither_lightning_nor_hydra():
    code = (
        "import sys, nequip.integrations.ase, nequip.model.export;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('lightning', 'hydra', 'omegaconf') or m.startswith('nequip.train')];"
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_docstring_example_runs():
    assert doctest.testmod(ase_integration, raise_on_error=True).attempted > 0
