"""A small NequIP-style energy model built from this package's layers, for tests.

type embedding -> spherical harmonics -> edge lengths -> Bessel x cutoff -> ``num_layers``
convnet layers (no self-connection in the first) -> linear readout (no bias) -> per-type
scale/shift -> sum -> forces/stress, wrapped in a :class:`~nequip.nn.graph_module.GraphModel`.
"""

from typing import Mapping, Optional, Sequence, Type, Union

import torch
from e3nn import o3
from nequip.data import keys

from ..atomwise import AtomwiseReduce
from ..convnet import ConvNetLayer
from ..force_stress import ForceStressOutput
from ..graph_module import GraphModel, SequentialGraphNetwork
from ..kernels.tensor_product import TensorProductScatter
from ..mlp import ScalarMLP
from ..node_embedding import NodeTypeEmbed
from ..radial import (
    BesselEdgeLengthEncoding,
    EdgeLengthNormalizer,
    PolynomialCutoff,
    per_edge_type_cutoff_dict,
    per_edge_type_cutoff_table,
)
from ..scale_shift import PerTypeScaleShift
from ..spherical_harmonics import SphericalHarmonicEdgeAttrs

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


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
    """Build the model (weights drawn with ``torch.manual_seed(seed)``, in ``model_dtype``).

    Hidden features: ``num_features`` copies of every irrep up to ``l_max`` (only the
    natural parity (-1)^l unless ``parity``); the last layer outputs scalars only.
    """
    if model_dtype not in _DTYPES:
        raise ValueError(f"model_dtype={model_dtype!r} is not allowed; allowed are {list(_DTYPES)}")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(_DTYPES[model_dtype])
    try:
        torch.manual_seed(seed)
        hidden = o3.Irreps(
            [(num_features, (deg, p)) for deg in range(l_max + 1) for p in ((1, -1) if parity else ((-1) ** deg,))]
        )
        modules = {"type_embed": NodeTypeEmbed(type_names, num_features)}
        modules["spharm"] = SphericalHarmonicEdgeAttrs(l_max, irreps_in=modules["type_embed"].irreps_out)
        modules["edge_norm"] = EdgeLengthNormalizer(
            r_max, type_names, per_edge_type_cutoff, irreps_in=modules["spharm"].irreps_out
        )
        modules["bessel"] = BesselEdgeLengthEncoding(
            r_max, num_bessels, cutoff=PolynomialCutoff(polynomial_cutoff_p), irreps_in=modules["edge_norm"].irreps_out
        )
        irreps = modules["bessel"].irreps_out
        for layer in range(num_layers):
            last = layer == num_layers - 1
            conv = ConvNetLayer(
                irreps,
                f"{num_features}x0e" if last else hidden,
                radial_mlp_depth=1,
                radial_mlp_width=16,
                use_sc=layer > 0,
                avg_num_neighbors=avg_num_neighbors,
                type_names=type_names,
                resnet=resnet and layer > 0,
                tp_scatter=tp_scatter,
            )
            modules[f"layer{layer}_convnet"] = conv
            irreps = conv.irreps_out
        modules["readout"] = ScalarMLP(1, bias=False, out_field=keys.PER_ATOM_ENERGY_KEY, irreps_in=irreps)
        modules["scale_shift"] = PerTypeScaleShift(
            type_names,
            scales=per_type_energy_scales,
            shifts=per_type_energy_shifts,
            irreps_in=modules["readout"].irreps_out,
        )
        modules["total_energy"] = AtomwiseReduce(
            keys.PER_ATOM_ENERGY_KEY, keys.TOTAL_ENERGY_KEY, irreps_in=modules["scale_shift"].irreps_out
        )
        energy_model = SequentialGraphNetwork(modules)
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
    finally:
        torch.set_default_dtype(previous)
