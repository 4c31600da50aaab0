"""Forces, stress and virial by autograd, checked against ASE's Lennard-Jones calculator."""

import ase
import numpy as np
import pytest
import torch
from ase.calculators.lj import LennardJones

from nequip.data import AtomicDataDict, keys
from nequip.nn.atomwise import AtomwiseReduce
from nequip.nn.force_stress import ForceStressOutput
from nequip.nn.graph_module import GraphModel, GraphModuleMixin, SequentialGraphNetwork
from nequip.nn.kernels import scatter_sum
from nequip.nn.testkit import frame_from_ase, random_cluster, small_nequip_model

SIGMA, EPSILON, RC = 1.1, 0.7, 3.0


class _PairLJ(GraphModuleMixin, torch.nn.Module):
    """E_i = 1/2 sum_j [phi(r_ij) - phi(rc)], ASE's unsmoothed LJ, as a graph module."""

    def __init__(self):
        super().__init__()
        self._init_irreps(irreps_out={keys.PER_ATOM_ENERGY_KEY: "0e"})

    def forward(self, data):
        data = AtomicDataDict.with_edge_vectors_(data)
        r = data[keys.EDGE_LENGTH_KEY]

        def phi(x):
            return 4 * EPSILON * ((SIGMA / x) ** 12 - (SIGMA / x) ** 6)

        pair = 0.5 * (phi(r) - phi(torch.tensor(RC, dtype=r.dtype)))
        num_atoms = data[keys.POSITIONS_KEY].shape[0]
        data[keys.PER_ATOM_ENERGY_KEY] = scatter_sum(pair, data[keys.EDGE_INDEX_KEY][0], num_atoms).view(-1, 1)
        return data


def _lj_model(do_derivatives=True):
    pair = _PairLJ()
    total = AtomwiseReduce(keys.PER_ATOM_ENERGY_KEY, keys.TOTAL_ENERGY_KEY, irreps_in=pair.irreps_out)
    return GraphModel(ForceStressOutput(SequentialGraphNetwork([pair, total]), do_derivatives), ["Ar"], RC)


def _crystal(seed=0):
    atoms = ase.Atoms("Ar4", cell=2.4 * (np.eye(3) + 0.05 * np.random.default_rng(seed).normal(size=(3, 3))), pbc=True)
    atoms.set_scaled_positions(np.random.default_rng(seed).uniform(size=(4, 3)))
    return atoms


def test_forces_and_stress_match_ase_conventions():
    atoms = _crystal()
    atoms.calc = LennardJones(sigma=SIGMA, epsilon=EPSILON, rc=RC, smooth=False)
    out = _lj_model()(frame_from_ase(atoms, ["Ar"], RC))
    np.testing.assert_allclose(out[keys.TOTAL_ENERGY_KEY].item(), atoms.get_potential_energy(), rtol=1e-10)
    np.testing.assert_allclose(out[keys.FORCE_KEY].detach().numpy(), atoms.get_forces(), rtol=1e-9, atol=1e-10)
    stress = atoms.get_stress(voigt=False)
    np.testing.assert_allclose(out[keys.STRESS_KEY][0].detach().numpy(), stress, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(
        out[keys.VIRIAL_KEY][0].detach().numpy(), -stress * atoms.get_volume(), rtol=1e-9, atol=1e-10
    )
    assert all(out[k].dtype == torch.float64 for k in (keys.FORCE_KEY, keys.STRESS_KEY, keys.VIRIAL_KEY))


def test_batch_of_periodic_and_molecular_frames():
    crystal = frame_from_ase(_crystal(1), ["Ar"], RC)
    molecule = frame_from_ase(ase.Atoms("Ar3", positions=[[0, 0, 0], [1.2, 0, 0], [0, 1.3, 0.2]]), ["Ar"], RC)
    batch = AtomicDataDict.batched_from_list([crystal, molecule])
    out = _lj_model()(batch)
    assert out[keys.STRESS_KEY].shape == (2, 3, 3)
    assert bool(torch.isfinite(out[keys.STRESS_KEY][0]).all())
    assert bool(torch.isnan(out[keys.STRESS_KEY][1]).all())  # zero cell: NaN, as upstream
    assert bool(torch.isfinite(out[keys.VIRIAL_KEY]).all())
    alone = _lj_model()(molecule)
    torch.testing.assert_close(out[keys.FORCE_KEY][4:], alone[keys.FORCE_KEY])
    torch.testing.assert_close(out[keys.VIRIAL_KEY][1:], alone[keys.VIRIAL_KEY])
    # virial of a finite molecule = -sum_i r_i (x) F_i (symmetrized)
    pos = molecule[keys.POSITIONS_KEY]
    w = -(pos.unsqueeze(2) * alone[keys.FORCE_KEY].unsqueeze(1)).sum(0)
    torch.testing.assert_close(alone[keys.VIRIAL_KEY][0], -0.5 * (w + w.T))


def test_training_mode_keeps_graph_and_inputs_untouched():
    model = small_nequip_model(["H", "O"], 3.0)
    data = random_cluster(["H", "O"], 3.0)
    pos_before = data[keys.POSITIONS_KEY].clone()
    model.train()
    out = model(data)
    loss = out[keys.FORCE_KEY].square().sum() + out[keys.TOTAL_ENERGY_KEY].sum()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads) and any(float(g.abs().sum()) > 0 for g in grads)
    assert not data[keys.POSITIONS_KEY].requires_grad and torch.equal(data[keys.POSITIONS_KEY], pos_before)
    assert keys.FORCE_KEY not in data
    model.eval()
    assert model(data)[keys.FORCE_KEY].grad_fn is None
    with torch.no_grad():  # an ASE calculator may call the model under no_grad
        torch.testing.assert_close(model(data)[keys.FORCE_KEY], out[keys.FORCE_KEY].detach())


def test_energy_only_switch_and_validation():
    model = _lj_model(do_derivatives=False)
    assert keys.FORCE_KEY not in model.irreps_out
    out = model(frame_from_ase(_crystal(), ["Ar"], RC))
    assert keys.FORCE_KEY not in out and keys.TOTAL_ENERGY_KEY in out
    with pytest.raises(ValueError, match="writes 'total_energy'"):
        ForceStressOutput(SequentialGraphNetwork([_PairLJ()]))
