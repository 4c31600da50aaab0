"""The shared physics test-kit on a matrix of NequIPGNNModel configs, and dissociation.

The matrix covers every axis (l_max 0-3, parity on/off, num_features int/list,
avg_num_neighbors global/per type, scales/shifts one value/dict, float32/float64, the
energy-only model, per-edge-type cutoffs, trainable scales/shifts, readout hidden layers)
without the full product: each config is a tiny model (2 layers, <= 6 features).
ZBL configs are in the repository's ``tests/test_models_zbl.py`` (it needs nequip-potentials).
"""

import pytest
import torch

from nequip.data import AtomicDataDict, keys
from nequip.model import NequIPGNNEnergyModel, NequIPGNNModel
from nequip.nn.kernels import HAS_FUSED_KERNELS, TensorProductScatter
from nequip.nn.testkit import (
    check_all,
    check_batch_consistency,
    check_cutoff_smoothness,
    check_equivariance,
    check_isolated_atoms,
    check_locality,
    check_periodic_images,
    evaluate,
    frame_from_ase,
    random_bulk,
    random_cluster,
)

TYPES = ["H", "O"]
R_MAX = 3.0

MATRIX = {
    "lmax0-noparity-int-global-floats-f64": dict(
        l_max=0, parity=False, num_features=4, avg_num_neighbors=3.0, scales=1.3, shifts=-2.0, dtype="float64"
    ),
    "lmax1-parity-list-pertype-dicts-f32": dict(
        l_max=1,
        parity=True,
        num_features=[6, 4],
        avg_num_neighbors={"H": 2.5, "O": 3.5},
        scales={"H": 0.7, "O": 1.9},
        shifts={"H": -1.5, "O": -4.0},
        dtype="float32",
    ),
    "lmax2-noparity-list-global-mixed-f64-edgecutoffs-trainable": dict(
        l_max=2,
        parity=False,
        num_features=[4, 3, 2],
        avg_num_neighbors=4.0,
        scales=0.9,
        shifts={"H": -1.5, "O": -4.0},
        dtype="float64",
        extra=dict(
            per_edge_type_cutoff={"H": {"H": 2.2, "O": 2.6}, "O": 3.0},
            per_type_energy_scales_trainable=True,
            per_type_energy_shifts_trainable=True,
        ),
    ),
    "lmax3-parity-int-pertype-mixed-f32-readout": dict(
        l_max=3,
        parity=True,
        num_features=2,
        avg_num_neighbors={"H": 3.0, "O": 2.0},
        scales={"H": 1.1, "O": 0.6},
        shifts=0.5,
        dtype="float32",
        extra=dict(readout_mlp_hidden_layers_depth=1, readout_mlp_hidden_layers_width=4, radial_mlp_depth=2),
    ),
}


def _build(builder, config, seed=0):
    return builder(
        seed=seed,
        model_dtype=config["dtype"],
        type_names=TYPES,
        r_max=R_MAX,
        num_layers=2,
        l_max=config["l_max"],
        parity=config["parity"],
        num_features=config["num_features"],
        radial_mlp_width=8,
        avg_num_neighbors=config["avg_num_neighbors"],
        per_type_energy_scales=config["scales"],
        per_type_energy_shifts=config["shifts"],
        **config.get("extra", {}),
    )


@pytest.mark.parametrize("name", list(MATRIX))
@pytest.mark.parametrize("training,fused_kernel", [(True, True), (False, True), (True, False)])
def test_physics_kit_passes(name, training, fused_kernel):
    """In training and eval mode with nequip-kernels' fused convolution (where installed), and
    with the PyTorch formulation of the convolution."""
    config = MATRIX[name]
    model = _build(NequIPGNNModel, config).train(training)
    assert not any("bias" in n for n, _ in model.named_parameters())
    kernels = [m for m in model.modules() if isinstance(m, TensorProductScatter)]
    for kernel in kernels:  # the builder has no kernel arguments: choose the formulation on the modules
        kernel.fused_kernel = fused_kernel
    assert kernels and all(k.uses_fused_kernel(torch.zeros(1)) == (HAS_FUSED_KERNELS and fused_kernel) for k in kernels)
    check_all(model, TYPES, R_MAX, config["shifts"])


def test_energy_only_model_passes_the_energy_checks():
    config = dict(
        l_max=1,
        parity=False,
        num_features=4,
        avg_num_neighbors={"H": 3.0, "O": 2.0},
        scales=1.2,
        shifts={"H": -1.5, "O": -4.0},
        dtype="float64",
    )
    model = _build(NequIPGNNEnergyModel, config)
    cluster, bulk = random_cluster(TYPES, R_MAX, num_atoms=5), random_bulk(TYPES, R_MAX, num_atoms=3)
    for frame in (cluster, bulk):
        check_equivariance(model, frame)
    check_batch_consistency(model, [cluster, bulk])
    check_periodic_images(model, bulk, R_MAX)
    check_isolated_atoms(model, TYPES, R_MAX, config["shifts"])
    check_cutoff_smoothness(model, TYPES, R_MAX)
    check_locality(model, cluster, R_MAX)
    # the same weights as the force model: identical energies
    forces_model = _build(NequIPGNNModel, config)
    torch.testing.assert_close(
        evaluate(model, bulk)[keys.TOTAL_ENERGY_KEY],
        evaluate(forces_model, bulk)[keys.TOTAL_ENERGY_KEY],
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dissociation(dtype):
    """Each isolated atom has energy exactly its shift; E(A + B 40 Å apart) = E(A) + E(B)."""
    import ase

    shifts = {"H": -1.25, "O": -4.5}
    model = _build(
        NequIPGNNModel,
        dict(
            l_max=1,
            parity=True,
            num_features=4,
            avg_num_neighbors=3.0,
            scales={"H": 0.8, "O": 1.6},
            shifts=shifts,
            dtype=dtype,
        ),
    )
    for name in TYPES:
        atom = frame_from_ase(ase.Atoms(name, positions=[[0.3, -0.2, 1.0]]), TYPES, R_MAX)
        out = evaluate(model, atom)
        assert out[keys.PER_ATOM_ENERGY_KEY].item() == shifts[name]  # exactly
        assert out[keys.TOTAL_ENERGY_KEY].item() == shifts[name]
        assert torch.equal(out[keys.FORCE_KEY], torch.zeros(1, 3, dtype=torch.float64))

    water = ase.Atoms("OH2", positions=[[0, 0, 0], [0.96, 0, 0], [-0.24, 0.93, 0]])
    peroxide = ase.Atoms("H2O2", positions=[[0.0, 0.9, 0.3], [1.4, -0.9, 0.3], [0, 0, 0], [1.4, 0, 0]])
    a, b = (frame_from_ase(m, TYPES, R_MAX) for m in (water, peroxide))
    far = peroxide.copy()
    far.translate([40.0, 0.0, 0.0])
    together = frame_from_ase(water + far, TYPES, R_MAX)
    out_a, out_b, out_ab = evaluate(model, a), evaluate(model, b), evaluate(model, together)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(
        out_ab[keys.TOTAL_ENERGY_KEY], out_a[keys.TOTAL_ENERGY_KEY] + out_b[keys.TOTAL_ENERGY_KEY], **tol
    )
    torch.testing.assert_close(out_ab[keys.FORCE_KEY], torch.cat([out_a[keys.FORCE_KEY], out_b[keys.FORCE_KEY]]), **tol)
    # and the interaction is not trivially zero
    assert abs(out_a[keys.TOTAL_ENERGY_KEY].item() - (2 * shifts["H"] + shifts["O"])) > 1e-3
    batched = AtomicDataDict.batched_from_list([a, b])
    torch.testing.assert_close(
        evaluate(model, batched)[keys.TOTAL_ENERGY_KEY].sum(), out_ab[keys.TOTAL_ENERGY_KEY].sum(), **tol
    )
