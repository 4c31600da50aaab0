"""A small NequIP-style energy model built from this package's layers, for tests.

The network of :func:`nequip.nn.nequip_network.nequip_energy_network` (type embedding ->
spherical harmonics -> edge lengths -> Bessel x cutoff -> ``num_layers`` convnet layers, no
self-connection in the first -> linear readout, no bias -> per-type scale/shift -> sum)
-> forces/stress, wrapped in a :class:`~nequip.nn.graph_module.GraphModel`.
"""

from typing import Mapping, Optional, Sequence, Type, Union

import torch
from e3nn import o3

from ..build_scope import check_model_dtype, default_dtype, seeded_rng
from ..force_stress import ForceStressOutput
from ..graph_module import GraphModel
from ..kernels.tensor_product import TensorProductScatter
from ..nequip_network import nequip_energy_network
from ..radial import per_edge_type_cutoff_dict, per_edge_type_cutoff_table


def small_nequip_model(
    type_names: Sequence[str],
    r_max: float,
    l_max: int = 1,
    parity: bool = False,
    num_features: int = 8,
    num_layers: int = 2,
    model_dtype: str = "float64",
    avg_num_neighbors: Union[float, Mapping[str, float]] = 4.0,
    per_type_energy_scales: Optional[Union[float, Mapping[str, float]]] = 1.0,
    per_type_energy_shifts: Optional[Union[float, Mapping[str, float]]] = 0.0,
    per_edge_type_cutoff: Optional[Mapping] = None,
    num_bessels: int = 8,
    polynomial_cutoff_p: int = 6,
    resnet: bool = False,
    tp_scatter: Type[torch.nn.Module] = TensorProductScatter,
    do_derivatives: bool = True,
    seed: int = 0,
) -> GraphModel:
    """Build the model in ``model_dtype``, its weights drawn from torch's default generator
    seeded with ``seed`` (:func:`~nequip.nn.build_scope.seeded_rng`: the caller's random
    state is left as it was).

    Hidden features: ``num_features`` copies of every irrep up to ``l_max`` (only the
    natural parity (-1)^l unless ``parity``); the last layer outputs scalars only. Radial
    MLPs: one hidden layer of 16; edges in the caller's order (no pair ordering) and
    self-connections from the full node attributes.
    """
    dtype = check_model_dtype(model_dtype)
    hidden = o3.Irreps(
        [(num_features, (deg, p)) for deg in range(l_max + 1) for p in ((1, -1) if parity else ((-1) ** deg,))]
    )
    with default_dtype(dtype), seeded_rng(seed):
        energy_model = nequip_energy_network(
            type_names,
            r_max,
            feature_irreps_hidden=[hidden] * (num_layers - 1) + [f"{num_features}x0e"],
            irreps_edge_sh=l_max,
            type_embed_num_features=num_features,
            radial_mlp_depth=[1] * num_layers,
            radial_mlp_width=[16] * num_layers,
            avg_num_neighbors=avg_num_neighbors,
            per_type_energy_scales=per_type_energy_scales,
            per_type_energy_shifts=per_type_energy_shifts,
            per_edge_type_cutoff=per_edge_type_cutoff,
            num_bessels=num_bessels,
            polynomial_cutoff_p=polynomial_cutoff_p,
            convnet_resnet=resnet,
            tp_scatter=tp_scatter,
            pair_ordered_edges=False,
            node_attrs_per_type=False,
        )
        cutoffs = None
        if per_edge_type_cutoff is not None:
            cutoffs = per_edge_type_cutoff_dict(
                per_edge_type_cutoff_table(per_edge_type_cutoff, type_names, r_max), type_names
            )
        return GraphModel(
            ForceStressOutput(energy_model, do_derivatives=do_derivatives),
            type_names=type_names,
            r_max=r_max,
            model_dtype=model_dtype,
            per_edge_type_cutoff=cutoffs,
        )
