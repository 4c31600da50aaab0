"""NVE molecular dynamics with a trained model conserves energy (ASE velocity Verlet through NequIPCalculator).

A tiny float64 model is first fitted (Adam, a few hundred steps) to EMT energies and forces
of rattled Cu/Au alloy cells, so that the dynamics is that of a physical potential; then
a 32-atom cell runs NVE at about 300 K with a 1 fs time step.
"""

import numpy as np
import torch
from ase import units
from ase.calculators.emt import EMT
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from ase.md.verlet import VelocityVerlet

from nequip.data import AtomicDataDict, from_ase, keys
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform
from nequip.integrations.ase import NequIPCalculator

NUM_FRAMES, FIT_STEPS = 4, 300
MD_STEPS, TIME_STEP_FS = 500, 1.0
MAX_DRIFT = 1e-5  # eV / atom / ps (measured: about 1e-7)


def _fit(model, frames):
    """Adam on energy + force MSE of the EMT labels; returns the final force RMSE (eV/Å)."""
    mapper, neighbors = ChemicalSpeciesToAtomTypeMapper(model.type_names), NeighborListTransform(model.r_max)
    batch = AtomicDataDict.batched_from_list([neighbors(mapper(from_ase(atoms))) for atoms in frames])
    energy, forces = batch[keys.TOTAL_ENERGY_KEY], batch[keys.FORCE_KEY]
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(FIT_STEPS):
        out = model(dict(batch))
        loss = ((out[keys.TOTAL_ENERGY_KEY] - energy) / 32).square().mean() + (
            out[keys.FORCE_KEY] - forces
        ).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    return float((model(dict(batch))[keys.FORCE_KEY] - forces).square().mean().sqrt())


def test_nve_energy_drift_of_trained_model(cuau_model, cuau_atoms):
    frames = []
    for seed in range(NUM_FRAMES):
        atoms = cuau_atoms(repeat=(2, 2, 2), seed=seed, rattle=0.15)
        atoms.calc = EMT()
        atoms.get_forces()
        frames.append(atoms)
    force_rms = float(np.sqrt(np.mean([np.square(a.get_forces()).mean() for a in frames])))
    model = cuau_model(num_features=8, per_type_energy_scales=force_rms, per_type_energy_shifts=0.0).train()
    rmse = _fit(model, frames)
    assert rmse < 0.35 * force_rms, f"fit failed: force RMSE {rmse:.3f} eV/Å vs force RMS {force_rms:.3f} eV/Å"

    atoms = cuau_atoms(repeat=(2, 2, 2), seed=100, rattle=0.05)
    atoms.calc = NequIPCalculator(model)
    thermalize_momenta(atoms, temperature_K=300, rng=np.random.default_rng(0))
    Stationary(atoms)
    energies = []
    dynamics = VelocityVerlet(atoms, timestep=TIME_STEP_FS * units.fs)
    dynamics.attach(lambda: energies.append(atoms.get_total_energy()), interval=1)
    dynamics.run(MD_STEPS)
    energies = np.array(energies)
    times_ps = np.arange(len(energies)) * TIME_STEP_FS / 1000
    drift = np.polyfit(times_ps, energies, 1)[0] / len(atoms)  # eV / atom / ps
    fluctuation = energies.std() / len(atoms)
    temperature = atoms.get_temperature()
    message = (
        f"NVE, {len(atoms)} atoms, {MD_STEPS} x {TIME_STEP_FS} fs: drift {drift:.2e} eV/atom/ps (bound {MAX_DRIFT:.0e}), "
        f"fluctuation {fluctuation:.2e} eV/atom, final T {temperature:.0f} K, fit force RMSE {rmse:.3f} eV/Å"
    )
    print(message)
    assert 50 < temperature < 1000, message  # the atoms moved and nothing exploded
    assert abs(drift) < MAX_DRIFT, message
    assert fluctuation < 1e-4, message  # measured: about 2e-6
