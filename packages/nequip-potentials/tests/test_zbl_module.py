"""The ZBL graph module: energies, forces, smooth cutoff, neighbor lists, validation."""

import doctest

import ase
import ase.build
import pytest
import torch
from e3nn import o3

import nequip.nn.pair_potential.zbl
from nequip.data import AtomicDataDict, compute_neighborlist_, from_ase, keys
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper
from nequip.nn.graph_module import GraphModel, SequentialGraphNetwork
from nequip.nn.pair_potential import ZBL
from nequip.nn.radial import PolynomialCutoff
from nequip.potentials import zbl_pair_energy

SPECIES = ["H", "C", "N", "O", "Cu", "Au"]
Z = {"H": 1, "C": 6, "N": 7, "O": 8, "Cu": 29, "Au": 79}


def _frame(atoms: ase.Atoms, r_max: float, type_names=SPECIES) -> AtomicDataDict.Type:
    data = from_ase(atoms)
    data = ChemicalSpeciesToAtomTypeMapper(model_type_names=list(type_names))(data)
    return compute_neighborlist_(data, r_max)


def _energy(module: ZBL, data: AtomicDataDict.Type) -> torch.Tensor:
    return module(dict(data))[keys.PER_ATOM_ENERGY_KEY].sum()


def _energy_and_forces(module: ZBL, data: AtomicDataDict.Type):
    data = dict(data)
    pos = data[keys.POSITIONS_KEY].clone().requires_grad_(True)
    data[keys.POSITIONS_KEY] = pos
    energy = _energy(module, data)
    (grad,) = torch.autograd.grad(energy, pos)
    return energy.detach(), -grad


def _dimer(a: str, b: str, r: float, r_max: float) -> AtomicDataDict.Type:
    return _frame(ase.Atoms(f"{a}{b}" if a != b else f"{a}2", positions=[[0, 0, 0], [r, 0, 0]]), r_max)


def _cluster() -> ase.Atoms:
    gen = torch.Generator().manual_seed(0)
    symbols = ["H", "C", "N", "O", "Cu", "Au", "C", "H"]
    # jittered grid: nearest neighbors 0.9 to 1.6 Å, many pairs across the 3 Å cutoff
    grid = torch.tensor([[i, j, k] for i in range(2) for j in range(2) for k in range(2)], dtype=torch.float64)
    pos = 1.2 * grid + 0.15 * torch.randn(8, 3, generator=gen, dtype=torch.float64)
    return ase.Atoms(symbols, positions=pos.numpy())


@pytest.mark.parametrize("a,b", [("H", "H"), ("C", "O"), ("N", "Au"), ("Cu", "Au"), ("Au", "Au")])
@pytest.mark.parametrize("units", ["metal", "real"])
def test_dimer_energy_is_kernel_times_envelope(a, b, units):
    r_max = 4.0
    zbl = ZBL(units=units, chemical_species=SPECIES, r_max=r_max, polynomial_cutoff_p=6)
    for r in (0.3, 1.1, 2.5, 3.9):
        out = zbl(_dimer(a, b, r, r_max))
        r_t = torch.tensor([r], dtype=torch.float64)
        expected = zbl_pair_energy(r_t, torch.tensor([Z[a]]), torch.tensor([Z[b]]), units) * PolynomialCutoff(6.0)(
            r_t / r_max
        )
        atomic = out[keys.PER_ATOM_ENERGY_KEY]
        assert atomic.shape == (2, 1) and atomic.dtype == torch.float64
        # half of the pair energy on each atom, whatever the species
        torch.testing.assert_close(atomic, (0.5 * expected).expand(2, 1), rtol=1e-14, atol=0.0)


def test_forces_match_finite_differences():
    zbl = ZBL(units="metal", chemical_species=SPECIES, r_max=3.0)
    data = _frame(_cluster(), 3.0)
    assert AtomicDataDict.num_edges(data) > 20
    energy, forces = _energy_and_forces(zbl, data)
    h = 1e-5
    fd = torch.zeros_like(forces)
    for atom in range(forces.shape[0]):
        for dim in range(3):
            shifted = []
            for sign in (1.0, -1.0):
                moved = dict(data)
                pos = data[keys.POSITIONS_KEY].clone()
                pos[atom, dim] += sign * h
                moved[keys.POSITIONS_KEY] = pos
                shifted.append(_energy(zbl, moved))
            fd[atom, dim] = -(shifted[0] - shifted[1]) / (2 * h)
    assert forces.abs().max() > 1.0
    torch.testing.assert_close(forces, fd, rtol=1e-6, atol=1e-6)
    # no net force on an isolated cluster
    torch.testing.assert_close(forces.sum(0), torch.zeros(3, dtype=torch.float64), rtol=0.0, atol=1e-9)


def test_smoothly_zero_at_r_max():
    """E, F and dF/dr vanish at r_max as (r_max - r)^3, ^2, ^1, and are exactly 0 beyond."""
    r_max = 2.5
    zbl = ZBL(units="metal", chemical_species=SPECIES, r_max=r_max)

    def e_f_k(r):
        r = torch.tensor(r, dtype=torch.float64, requires_grad=True)
        data = _dimer("Cu", "Au", 1.0, 10.0)  # edges present at any r below 10 Å
        pos = torch.stack([torch.zeros(3, dtype=torch.float64), torch.stack([r, r * 0, r * 0])])
        data[keys.POSITIONS_KEY] = pos
        energy = _energy(zbl, data)
        (de,) = torch.autograd.grad(energy, r, create_graph=True)
        (d2e,) = torch.autograd.grad(de, r)
        return energy.item(), -de.item(), d2e.item()

    far = [e_f_k(r_max - d) for d in (1e-2, 2e-2)]
    e_ratio, f_ratio, k_ratio = (far[1][n] / far[0][n] for n in range(3))
    assert e_ratio == pytest.approx(8.0, rel=0.05)
    assert f_ratio == pytest.approx(4.0, rel=0.05)
    assert k_ratio == pytest.approx(2.0, rel=0.05)
    near = e_f_k(r_max - 1e-4)
    assert abs(near[0]) < 1e-10 and abs(near[1]) < 1e-6 and abs(near[2]) < 1e-2
    for r in (r_max, r_max + 0.3):
        assert e_f_k(r) == (0.0, 0.0, 0.0)
    # compared with the bare pair energy at r_max - 0.01 Å, the envelope is small
    bare = zbl_pair_energy(
        torch.tensor([r_max - 1e-2], dtype=torch.float64), torch.tensor([29]), torch.tensor([79])
    ).item()
    assert 0 < far[0][0] < 1e-4 * bare


def test_full_neighbor_list_total_is_sum_over_unordered_pairs():
    atoms = _cluster()
    r_max = 3.0
    zbl = ZBL(units="metal", chemical_species=SPECIES, r_max=r_max)
    total = _energy(zbl, _frame(atoms, r_max)).item()
    pos = torch.tensor(atoms.positions, dtype=torch.float64)
    z = torch.tensor(atoms.numbers)
    expected = 0.0
    for i in range(len(atoms)):
        for j in range(i + 1, len(atoms)):
            r = torch.linalg.norm(pos[j] - pos[i]).reshape(1)
            if r < r_max:
                expected += (zbl_pair_energy(r, z[i : i + 1], z[j : j + 1]) * PolynomialCutoff(6.0)(r / r_max)).item()
    assert expected > 1.0
    assert total == pytest.approx(expected, rel=1e-13)


def test_periodic_supercell_and_batch():
    r_max = 3.0
    zbl = ZBL(units="metal", chemical_species=SPECIES, r_max=r_max)
    cell = ase.build.bulk("Cu", "fcc", a=3.3) * (1, 1, 1)  # 1 atom, 12 neighbors at 2.33 Å
    alloy = ase.build.bulk("NaCl", "rocksalt", a=3.4)
    alloy.set_chemical_symbols(["Au", "C"])
    for atoms in (cell, alloy):
        e1 = _energy(zbl, _frame(atoms, r_max))
        e8 = _energy(zbl, _frame(atoms * (2, 2, 2), r_max))
        assert e1 > 0
        torch.testing.assert_close(e8, 8 * e1, rtol=1e-12, atol=0.0)
    frames = [_frame(cell, r_max), _frame(_cluster(), r_max), _frame(alloy, r_max)]
    batched = AtomicDataDict.batched_from_list([dict(f) for f in frames])
    atomic = zbl(batched)[keys.PER_ATOM_ENERGY_KEY]
    per_frame = torch.cat([zbl(dict(f))[keys.PER_ATOM_ENERGY_KEY] for f in frames])
    torch.testing.assert_close(atomic, per_frame, rtol=1e-13, atol=0.0)


def test_adds_to_existing_per_atom_energy():
    zbl = ZBL(units="metal", chemical_species=SPECIES, r_max=3.0, irreps_in={keys.PER_ATOM_ENERGY_KEY: "0e"})
    data = _frame(_cluster(), 3.0)
    alone = zbl(dict(data))[keys.PER_ATOM_ENERGY_KEY]
    data[keys.PER_ATOM_ENERGY_KEY] = torch.arange(8, dtype=torch.float32).unsqueeze(-1)
    added = zbl(dict(data))[keys.PER_ATOM_ENERGY_KEY]
    assert added.dtype == torch.float64
    torch.testing.assert_close(added, alone + torch.arange(8, dtype=torch.float64).unsqueeze(-1))
    assert zbl.irreps_out[keys.PER_ATOM_ENERGY_KEY] == o3.Irreps("0e")


def test_custom_energy_field_and_type_names():
    zbl = ZBL(
        units="metal",
        chemical_species=["O", "H"],
        type_names=["oxygen", "hydrogen"],
        r_max=3.0,
        per_atom_energy_field=keys.NODE_FEATURES_KEY,
    )
    data = _frame(ase.build.molecule("H2O"), 3.0, type_names=["O", "H"])
    out = zbl(data)
    assert keys.PER_ATOM_ENERGY_KEY not in out
    reference = ZBL(units="metal", chemical_species=["O", "H"], r_max=3.0)(dict(data))
    torch.testing.assert_close(out[keys.NODE_FEATURES_KEY], reference[keys.PER_ATOM_ENERGY_KEY])


def test_r_max_from_normed_edge_lengths():
    r_max = 3.0
    data = _frame(_cluster(), r_max)
    data = AtomicDataDict.with_edge_vectors_(dict(data))
    with_r_max = ZBL(units="metal", chemical_species=SPECIES, r_max=r_max)(dict(data))
    data[keys.NORM_LENGTH_KEY] = data[keys.EDGE_LENGTH_KEY] / r_max
    from_norm = ZBL(units="metal", chemical_species=SPECIES, irreps_in={keys.NORM_LENGTH_KEY: None})
    torch.testing.assert_close(from_norm(dict(data))[keys.PER_ATOM_ENERGY_KEY], with_r_max[keys.PER_ATOM_ENERGY_KEY])
    # the normed lengths carry the model's cutoff (per edge type too): here 2.0 Å
    data[keys.NORM_LENGTH_KEY] = data[keys.EDGE_LENGTH_KEY] / 2.0
    shorter = ZBL(units="metal", chemical_species=SPECIES, r_max=2.0)(dict(data))
    torch.testing.assert_close(from_norm(dict(data))[keys.PER_ATOM_ENERGY_KEY], shorter[keys.PER_ATOM_ENERGY_KEY])
    with pytest.raises(ValueError, match="requires fields.*normed_edge_lengths"):
        ZBL(units="metal", chemical_species=SPECIES)


def test_validation_errors():
    with pytest.raises(ValueError, match=r"units: got 'SI'.*\['metal', 'real'\]"):
        ZBL(units="SI", chemical_species=["H"], r_max=3.0)
    with pytest.raises(ValueError, match=r"chemical_species: \['Xx'\] are not chemical symbols.*'Au'"):
        ZBL(units="metal", chemical_species=["H", "Xx"], r_max=3.0)
    with pytest.raises(ValueError, match=r"chemical_species has 2 entries.*type_names has 3 entries"):
        ZBL(units="metal", chemical_species=["H", "O"], type_names=["H", "O", "C"], r_max=3.0)
    with pytest.raises(ValueError, match="chemical_species: got the string 'H'"):
        ZBL(units="metal", chemical_species="H", r_max=3.0)
    with pytest.raises(ValueError, match="chemical_species: got an empty list"):
        ZBL(units="metal", chemical_species=[], r_max=3.0)
    with pytest.raises(ValueError, match="r_max: got -1.0"):
        ZBL(units="metal", chemical_species=["H"], r_max=-1.0)
    with pytest.raises(ValueError, match=r"polynomial_cutoff_p \(the cutoff exponent p\) must be >= 2, got 0"):
        ZBL(units="metal", chemical_species=["H"], r_max=3.0, polynomial_cutoff_p=0)
    with pytest.raises(ValueError, match="needs 1x0e"):
        ZBL(units="metal", chemical_species=["H"], r_max=3.0, irreps_in={keys.PER_ATOM_ENERGY_KEY: "1o"})


def test_in_graph_model():
    zbl = ZBL(units="metal", chemical_species=SPECIES, type_names=SPECIES, r_max=3.0)
    model = GraphModel(SequentialGraphNetwork({"pair_potential": zbl}), type_names=SPECIES, r_max=3.0)
    data = _frame(_cluster(), 3.0)
    out = model(data)
    torch.testing.assert_close(out[keys.PER_ATOM_ENERGY_KEY], zbl(dict(data))[keys.PER_ATOM_ENERGY_KEY])
    assert keys.PER_ATOM_ENERGY_KEY not in data  # GraphModel keeps the caller's dict


def test_torch_compile_smoke():
    zbl = ZBL(units="metal", chemical_species=SPECIES, r_max=3.0)
    data = _frame(_cluster(), 3.0)
    compiled = torch.compile(zbl, backend="aot_eager", fullgraph=True)
    e_eager, f_eager = _energy_and_forces(zbl, data)
    e_comp, f_comp = _energy_and_forces(compiled, data)
    torch.testing.assert_close(e_comp, e_eager)
    torch.testing.assert_close(f_comp, f_eager)


@pytest.mark.parametrize("module", [nequip.nn.pair_potential.zbl])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_matches_cpu():
    zbl = ZBL(units="metal", chemical_species=SPECIES, r_max=3.0)
    data = _frame(_cluster(), 3.0)
    e_cpu, f_cpu = _energy_and_forces(zbl, data)
    e_gpu, f_gpu = _energy_and_forces(zbl.to("cuda"), AtomicDataDict.to_(dict(data), device="cuda"))
    torch.testing.assert_close(e_gpu.cpu(), e_cpu)
    torch.testing.assert_close(f_gpu.cpu(), f_cpu)
