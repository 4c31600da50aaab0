"""nequip-ext-demo: an invariant (scalar-message) graph network built from nequip-nn layers.

:func:`ScalarGNNModel` is a model builder made with :func:`nequip.model.model_builder`:
called with ``seed``, ``model_dtype`` and ``type_names`` (and optionally ``compile_mode``),
it builds its weights from a random state seeded with ``seed`` and in ``model_dtype``,
returns a :class:`~nequip.nn.graph_module.GraphModel` and records its config as plain data
with ``_target_: nequip_ext_demo.ScalarGNNModel`` (``model.model_config``), from which
checkpoints rebuild it. The network is nequip-nn's NequIP assembly
(:func:`nequip.nn.nequip_network.nequip_energy_network`) restricted to scalars: ``l_max = 0``
edge harmonics and ``0e`` features in every layer.
"""

from typing import Mapping, Optional, Sequence, Union

from nequip.model import model_builder
from nequip.nn.force_stress import ForceStressOutput
from nequip.nn.nequip_network import nequip_energy_network

__all__ = ["ScalarGNNModel"]

PerType = Union[float, Mapping[str, float]]


@model_builder
def ScalarGNNModel(
    type_names: Sequence[str],
    r_max: float,
    num_layers: int = 2,
    num_features: int = 16,
    num_bessels: int = 8,
    polynomial_cutoff_p: int = 6,
    avg_num_neighbors: PerType = 10.0,
    per_type_energy_scales: Optional[PerType] = None,
    per_type_energy_shifts: Optional[PerType] = None,
) -> ForceStressOutput:
    """An invariant message-passing potential: scalar (``0e``) features only; energies, forces and stress.

    Args:
        type_names: atom type names, in type-index order.
        r_max: cutoff radius (length unit of the data).
        num_layers: number of message-passing layers, >= 1.
        num_features: scalar features per atom.
        num_bessels: radial Bessel basis size.
        polynomial_cutoff_p: exponent of the polynomial cutoff envelope.
        avg_num_neighbors: normalization of the neighbor sums (one number or ``{type name: number}``).
        per_type_energy_scales: per-atom energy scale (energy unit; one number or
            ``{type name: number}``; ``None``: 1).
        per_type_energy_shifts: per-atom energy shift (energy unit; same forms; ``None``: 0),
            the energy of an isolated atom of the type.

    Returns:
        the graph module (``model_builder`` wraps it in a ``GraphModel``): total energy of
        shape ``(num_frames, 1)``, per-atom energies ``(num_atoms, 1)``, forces
        ``(num_atoms, 3)`` and, with a cell, stress and virial ``(num_frames, 3, 3)``.

    Raises:
        ValueError: for ``num_layers`` that is not an integer >= 1 or ``num_features`` that is
            not an integer >= 1 (and, from ``model_builder``, for an unknown ``model_dtype``,
            ``compile_mode`` or argument).
    """
    for name, value in (("num_layers", num_layers), ("num_features", num_features)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    energy_network = nequip_energy_network(
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
    return ForceStressOutput(energy_network)
