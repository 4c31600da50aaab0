"""Physics test-kit for energy models on ``AtomicDataDict`` graphs, reusable by extension packages.

Each ``check_*`` function takes a model (a callable ``AtomicDataDict -> AtomicDataDict``
writing ``total_energy``, ``atomic_energy``, ``forces`` and, for periodic frames,
``stress``/``virial``, e.g. a :class:`~nequip.nn.graph_module.GraphModel`) and data, and
raises ``AssertionError`` saying what differed and by how much. Tolerances default by
``model.model_dtype`` (float64 if absent). :func:`check_all` runs them all.

Example:
    >>> from nequip.nn.testkit import small_nequip_model, random_cluster, check_equivariance
    >>> model = small_nequip_model(["H", "O"], r_max=3.0)
    >>> check_equivariance(model, random_cluster(["H", "O"], r_max=3.0))
"""

from typing import Mapping, Optional, Sequence, Union

from ._compare import assert_close, default_tolerance, evaluate
from .equivariance import (
    check_equivariance,
    check_module_equivariance,
    check_permutation_equivariance,
    check_reflection_equivariance,
    check_rotation_equivariance,
    check_translation_invariance,
    wigner_d,
)
from .frames import frame_from_ase, permuted, random_bulk, random_cluster, random_rotation, transformed, with_neighbors
from .models import small_nequip_model
from .physics import (
    check_batch_consistency,
    check_cutoff_smoothness,
    check_forces_finite_differences,
    check_isolated_atoms,
    check_locality,
    check_periodic_images,
    check_stress_finite_differences,
)


def check_all(
    model,
    type_names: Sequence[str],
    r_max: float,
    shifts: Union[float, Mapping[str, float], None],
    seed: int = 0,
    tol: Optional[float] = None,
) -> None:
    """Run every check on random clusters and periodic cells made of ``type_names`` (chemical symbols)."""
    cluster = random_cluster(type_names, r_max, num_atoms=5, seed=seed)
    bulk = random_bulk(type_names, r_max, num_atoms=3, seed=seed)
    for frame in (cluster, bulk):
        check_equivariance(model, frame, tol)
    check_forces_finite_differences(model, cluster)
    check_stress_finite_differences(model, bulk)
    check_batch_consistency(model, [cluster, bulk, random_cluster(type_names, r_max, num_atoms=3, seed=seed + 1)], tol)
    check_periodic_images(model, bulk, r_max, tol)
    check_isolated_atoms(model, type_names, r_max, shifts, tol)
    check_cutoff_smoothness(model, type_names, r_max)
    check_locality(model, cluster, r_max, tol)


__all__ = [
    "assert_close",
    "default_tolerance",
    "evaluate",
    "check_all",
    "check_equivariance",
    "check_module_equivariance",
    "check_rotation_equivariance",
    "check_reflection_equivariance",
    "check_translation_invariance",
    "wigner_d",
    "check_permutation_equivariance",
    "check_forces_finite_differences",
    "check_stress_finite_differences",
    "check_batch_consistency",
    "check_periodic_images",
    "check_isolated_atoms",
    "check_cutoff_smoothness",
    "check_locality",
    "frame_from_ase",
    "with_neighbors",
    "random_cluster",
    "random_bulk",
    "random_rotation",
    "transformed",
    "permuted",
    "small_nequip_model",
]
