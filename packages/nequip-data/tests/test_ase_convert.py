"""from_ase / to_ase round trips for energies, forces, stress forms, virial and extra fields."""

import ase
import ase.build
import numpy as np
import pytest
import torch
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.stress import full_3x3_to_voigt_6_stress

from nequip.data import from_ase, keys, register_fields, to_ase
from nequip.data.fields import deregister_fields


def _emt_frame(pbc=True, seed=0):
    atoms = ase.build.bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 1, 1))
    atoms.symbols[[1, 4]] = "Au"
    atoms.rattle(0.05, seed=seed)
    atoms.pbc = pbc
    atoms.calc = EMT()
    results = dict(
        energy=atoms.get_potential_energy(),
        free_energy=atoms.get_potential_energy() + 0.1,
        forces=atoms.get_forces(),
        energies=atoms.get_potential_energies(),
    )
    if all(atoms.pbc):
        results["stress"] = atoms.get_stress()
    atoms.calc = SinglePointCalculator(atoms, **results)
    return atoms


def test_fields_shapes_and_dtypes():
    atoms = _emt_frame()
    data = from_ase(atoms)
    n = len(atoms)
    assert data[keys.POSITIONS_KEY].shape == (n, 3)
    assert data[keys.CELL_KEY].shape == (1, 3, 3)
    assert data[keys.PBC_KEY].tolist() == [[True, True, True]]
    assert data[keys.TOTAL_ENERGY_KEY].shape == (1, 1)
    assert data[keys.FREE_ENERGY_KEY].shape == (1, 1)
    assert data[keys.PER_ATOM_ENERGY_KEY].shape == (n, 1)
    assert data[keys.FORCE_KEY].shape == (n, 3)
    assert data[keys.STRESS_KEY].shape == (1, 3, 3)
    assert data[keys.NUM_NODES_KEY].tolist() == [n]
    assert data[keys.BATCH_KEY].tolist() == [0] * n
    for field, value in data.items():
        if value.is_floating_point():
            assert value.dtype == torch.float64, field
    np.testing.assert_array_equal(full_3x3_to_voigt_6_stress(data[keys.STRESS_KEY][0].numpy()), atoms.get_stress())


@pytest.mark.parametrize("pbc", [[True, True, True], [True, False, True], [False, False, False]])
def test_round_trip(pbc):
    atoms = _emt_frame(pbc=pbc)
    back = to_ase(from_ase(atoms))[0]
    assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
    np.testing.assert_array_equal(back.positions, atoms.positions)
    np.testing.assert_array_equal(back.cell.array, atoms.cell.array)
    np.testing.assert_array_equal(back.pbc, atoms.pbc)
    for name in atoms.calc.results:
        np.testing.assert_allclose(back.calc.results[name], atoms.calc.results[name], rtol=0, atol=1e-14)
    assert set(back.calc.results) == set(atoms.calc.results)


@pytest.mark.parametrize("form", ["voigt", "3x3", "flat9"])
def test_stress_forms(form):
    atoms = _emt_frame()
    full = from_ase(atoms)[keys.STRESS_KEY][0].numpy()
    value = {"voigt": full_3x3_to_voigt_6_stress(full), "3x3": full, "flat9": full.reshape(9)}[form]
    atoms.info["virial"] = -value  # any per-frame 3x3 tensor field accepts the same forms
    atoms.calc = None
    data = from_ase(atoms)
    np.testing.assert_allclose(data[keys.VIRIAL_KEY][0].numpy(), -full, atol=1e-15)


def test_bad_stress_shape_names_the_field():
    atoms = _emt_frame()
    atoms.info["virial"] = np.zeros(5)
    atoms.calc = None
    with pytest.raises(ValueError, match=r"'virial' has shape \(5,\)"):
        from_ase(atoms)


def test_key_mapping_include_and_exclude():
    atoms = _emt_frame()
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    atoms.calc = None
    atoms.info["REF_energy"] = energy
    atoms.arrays["REF_forces"] = forces
    atoms.info["temperature"] = 300.0
    atoms.arrays["weights"] = np.arange(len(atoms), dtype=float)
    atoms.info["config_type"] = "bulk"  # not asked for: not a field, stays out
    try:
        data = from_ase(
            atoms,
            key_mapping={"REF_energy": keys.TOTAL_ENERGY_KEY, "REF_forces": keys.FORCE_KEY},
            include_keys=["temperature", "weights"],
            exclude_keys=[keys.PER_ATOM_ENERGY_KEY],
        )
        assert data[keys.TOTAL_ENERGY_KEY].item() == energy
        np.testing.assert_array_equal(data[keys.FORCE_KEY].numpy(), forces)
        assert data["temperature"].shape == (1, 1)
        assert data["weights"].shape == (len(atoms), 1)
        assert "config_type" not in data
        back = to_ase(data, extra_fields=["temperature", "weights"])[0]
        assert back.info["temperature"] == pytest.approx(300.0)
        np.testing.assert_array_equal(back.arrays["weights"][:, 0], np.arange(len(atoms)))
    finally:
        deregister_fields("temperature", "weights")


def test_include_key_that_is_absent_lists_what_is_there():
    with pytest.raises(KeyError, match=r"include_keys \['REF_energy'\] are not in this ase.Atoms"):
        from_ase(_emt_frame(), include_keys=["REF_energy"])


def test_to_ase_from_types_needs_symbols():
    data = from_ase(ase.build.molecule("H2O"))
    data[keys.ATOM_TYPE_KEY] = torch.tensor([1, 0, 0])
    del data[keys.ATOMIC_NUMBERS_KEY]
    with pytest.raises(ValueError, match="chemical_symbols"):
        to_ase(data)
    assert to_ase(data, chemical_symbols=["H", "O"])[0].get_chemical_symbols() == ["O", "H", "H"]


def test_register_fields_rejects_a_kind_change():
    with pytest.raises(ValueError, match=r"\['forces'\] cannot be registered as graph fields"):
        register_fields(graph_fields=[keys.FORCE_KEY])
