"""nequip-ext-demo: an invariant (scalar-message) graph network built from nequip-nn layers.

:func:`ScalarGNNModel` follows the model-builder contract of ``nequip.model`` without
depending on it: called with ``seed``, ``model_dtype`` and ``type_names``, it draws its
weights from torch's generator seeded with ``seed`` (:func:`nequip.nn.build_scope.seeded_rng`
restores the caller's random state), builds in ``model_dtype``, returns a
:class:`~nequip.nn.graph_module.GraphModel` and records its config as plain data with a
``_target_`` (``model.model_config``), so that checkpoints rebuild it. The network is
nequip-nn's NequIP assembly (:func:`nequip.nn.nequip_network.nequip_energy_network`)
restricted to scalars: ``l_max = 0`` edge harmonics and ``0e`` features in every layer.
"""

from typing import Mapping, Sequence, Union

from nequip.nn.build_scope import check_model_dtype, default_dtype, seeded_rng
from nequip.nn.force_stress import ForceStressOutput
from nequip.nn.graph_module import GraphModel
from nequip.nn.nequip_network import nequip_energy_network

__all__ = ["ScalarGNNModel"]

PerType = Union[float, Mapping[str, float], None]


def ScalarGNNModel(
    *,
    seed: int,
    model_dtype: str,
    type_names: Sequence[str],
    r_max: float,
    num_layers: int = 2,
    num_features: int = 16,
    num_bessels: int = 8,
    polynomial_cutoff_p: int = 6,
    avg_num_neighbors: Union[float, Mapping[str, float]] = 10.0,
    per_type_energy_scales: PerType = None,
    per_type_energy_shifts: PerType = None,
    compile_mode: str = "eager",
) -> GraphModel:
    """An invariant message-passing potential: scalar (``0e``) features only, energies, forces and stress.

    Args:
        seed: seed of the initial weights.
        model_dtype: ``float32`` or ``float64``.
        type_names: atom type names, in type-index order.
        r_max: cutoff radius (length unit of the data).
        num_layers: number of message-passing layers, >= 1.
        num_features: scalar features per atom.
        num_bessels: radial Bessel basis size.
        polynomial_cutoff_p: exponent of the polynomial cutoff envelope.
        avg_num_neighbors: normalization of the neighbor sums.
        per_type_energy_scales, per_type_energy_shifts: per-atom energy scale and shift
            (one number or ``{type name: number}``).
        compile_mode: only ``eager`` (accepted for config compatibility).

    Raises:
        ValueError: for an unknown ``model_dtype`` or ``compile_mode``, or ``num_layers < 1``.
    """
    dtype = check_model_dtype(model_dtype)
    if compile_mode != "eager":
        raise ValueError(f"compile_mode={compile_mode!r} is not supported by ScalarGNNModel; allowed is 'eager'")
    if not (isinstance(num_layers, int) and num_layers >= 1):
        raise ValueError(f"num_layers must be an integer >= 1, got {num_layers!r}")
    config = {
        "_target_": "nequip_ext_demo.ScalarGNNModel",
        "seed": seed,
        "model_dtype": model_dtype,
        "type_names": list(type_names),
        "r_max": float(r_max),
        "num_layers": num_layers,
        "num_features": num_features,
        "num_bessels": num_bessels,
        "polynomial_cutoff_p": polynomial_cutoff_p,
        "avg_num_neighbors": avg_num_neighbors
        if not isinstance(avg_num_neighbors, Mapping)
        else dict(avg_num_neighbors),
        "per_type_energy_scales": per_type_energy_scales
        if not isinstance(per_type_energy_scales, Mapping)
        else dict(per_type_energy_scales),
        "per_type_energy_shifts": per_type_energy_shifts
        if not isinstance(per_type_energy_shifts, Mapping)
        else dict(per_type_energy_shifts),
        "compile_mode": compile_mode,
    }
    with default_dtype(dtype), seeded_rng(seed):
        energy_model = nequip_energy_network(
            list(type_names),
            r_max,
            feature_irreps_hidden=[f"{num_features}x0e"] * num_layers,
            irreps_edge_sh=0,
            type_embed_num_features=num_features,
            radial_mlp_depth=[1] * num_layers,
            radial_mlp_width=[2 * num_features] * num_layers,
            avg_num_neighbors=avg_num_neighbors,
            per_type_energy_scales=per_type_energy_scales,
            per_type_energy_shifts=per_type_energy_shifts,
            num_bessels=num_bessels,
            polynomial_cutoff_p=polynomial_cutoff_p,
            pair_ordered_edges=False,
            node_attrs_per_type=False,
        )
        model = GraphModel(
            ForceStressOutput(energy_model), type_names=list(type_names), r_max=r_max, model_dtype=model_dtype
        )
    model.model_config = config
    return model


# checkpoints rebuild only functions marked as model builders (see nequip.model.checkpoint)
ScalarGNNModel.is_nequip_model_builder = True
