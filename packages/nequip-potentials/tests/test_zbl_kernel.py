"""The bare ZBL kernel against LAMMPS ``pair_style zbl`` numbers (tests/data/zbl_reference.csv)."""

import csv
import doctest
import pathlib

import pytest
import torch

import nequip.potentials.elements
import nequip.potentials.zbl
from nequip.potentials import COULOMB_CONSTANT, atomic_numbers_of, coulomb_constant, zbl_pair_energy, zbl_screening

REFERENCE = pathlib.Path(__file__).parent / "data" / "zbl_reference.csv"
PAIRS = {("H", "H"), ("C", "Au"), ("N", "O"), ("Cu", "Cu"), ("Au", "Au"), ("H", "Au")}


def _reference(units: str):
    with open(REFERENCE, newline="") as f:
        rows = [row for row in csv.DictReader(line for line in f if not line.startswith("#"))]
    rows = [row for row in rows if row["units"] == units]

    def column(name, dtype):
        return torch.tensor([dtype(row[name]) for row in rows], dtype=torch.float64)

    return (
        rows,
        column("r", float),
        column("z_i", int),
        column("z_j", int),
        column("energy", float),
        column("force", float),
    )


def _energy_and_force(r, z_i, z_j, units):
    r = r.clone().requires_grad_(True)
    energy = zbl_pair_energy(r, z_i, z_j, units=units)
    (grad,) = torch.autograd.grad(energy.sum(), r)
    return energy.detach(), -grad


def test_reference_table_covers_all_pairs_and_distances():
    for units in ("metal", "real"):
        rows, r, *_ = _reference(units)
        pairs = {(row["symbol_i"], row["symbol_j"]) for row in rows}
        assert len(pairs) == 21  # all unordered pairs of 6 species, like pairs included
        assert PAIRS <= pairs
        assert r.min() == pytest.approx(0.2) and r.max() == pytest.approx(8.0)


@pytest.mark.parametrize("units", ["metal", "real"])
def test_matches_lammps(units):
    """Energy to 1e-4 and force (by autograd) to 1e-5, in eV (metal) or kcal/mol (real)."""
    _, r, z_i, z_j, e_ref, f_ref = _reference(units)
    energy, force = _energy_and_force(r, z_i, z_j, units)
    assert energy.dtype == torch.float64
    assert (energy - e_ref).abs().max() < 1e-4
    assert (force - f_ref).abs().max() < 1e-5
    # and relative agreement, so that the small energies at 8 Å are checked too
    assert ((energy - e_ref).abs() / e_ref.abs()).max() < 1e-7
    assert ((force - f_ref).abs() / f_ref.abs()).max() < 1e-10


def test_real_over_metal_is_ratio_of_coulomb_constants():
    _, r, z_i, z_j, e_metal, _ = _reference("metal")
    _, r_real, _, _, e_real, _ = _reference("real")
    assert torch.equal(r, r_real)
    ratio = COULOMB_CONSTANT["real"] / COULOMB_CONSTANT["metal"]
    torch.testing.assert_close(e_real / e_metal, torch.full_like(e_metal, ratio), rtol=1e-7, atol=0.0)
    torch.testing.assert_close(zbl_pair_energy(r, z_i, z_j, "real"), ratio * zbl_pair_energy(r, z_i, z_j, "metal"))


def test_symmetric_in_species_and_broadcasts():
    r = torch.linspace(0.3, 5.0, 7, dtype=torch.float64)
    z_i = torch.tensor([1, 6, 7, 8, 29, 79, 79])
    z_j = torch.tensor([79, 8, 1, 29, 6, 7, 79])
    torch.testing.assert_close(zbl_pair_energy(r, z_i, z_j), zbl_pair_energy(r, z_j, z_i), rtol=1e-15, atol=0.0)
    grid = zbl_pair_energy(r[:, None], z_i[None, :], z_j[None, :])
    assert grid.shape == (7, 7)
    torch.testing.assert_close(grid.diagonal(), zbl_pair_energy(r, z_i, z_j))


def test_short_range_limit_is_bare_coulomb():
    # phi(0) = sum c_m = 1 (to the 5 digits of the coefficients): E -> k Z_i Z_j / r
    assert zbl_screening(torch.zeros(1, dtype=torch.float64)).item() == pytest.approx(1.0, abs=1e-12)
    r = torch.tensor([1e-6], dtype=torch.float64)
    e = zbl_pair_energy(r, torch.tensor([6]), torch.tensor([8]))
    assert e.item() == pytest.approx(14.399645 * 48 / 1e-6, rel=1e-4)


def test_float32_follows_r():
    r = torch.tensor([0.5, 1.0], dtype=torch.float32)
    e = zbl_pair_energy(r, torch.tensor([29, 29]), torch.tensor([79, 79]))
    assert e.dtype == torch.float32
    torch.testing.assert_close(
        e.double(), zbl_pair_energy(r.double(), torch.tensor([29, 29]), torch.tensor([79, 79])), rtol=1e-6, atol=0.0
    )


def test_unknown_units():
    with pytest.raises(ValueError, match=r"units: got 'si'.*\['metal', 'real'\]"):
        coulomb_constant("si")
    with pytest.raises(ValueError, match="units"):
        zbl_pair_energy(torch.ones(1), torch.ones(1), torch.ones(1), units="lj")


def test_atomic_numbers_of():
    assert atomic_numbers_of(["H", "C", "N", "O", "Cu", "Au", "Og"]) == [1, 6, 7, 8, 29, 79, 118]
    with pytest.raises(ValueError, match=r"chemical_species: \['X', 'cu'\] are not chemical symbols.*'He'"):
        atomic_numbers_of(["H", "X", "cu"])


@pytest.mark.parametrize("module", [nequip.potentials.zbl, nequip.potentials.elements])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
