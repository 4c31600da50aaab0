"""nequip-ext-demo: an invariant (scalar-message) graph network built from nequip-nn layers.

:func:`ScalarGNNModel` follows the model-builder contract of ``nequip.model`` without
depending on it: called with ``seed``, ``model_dtype`` and ``type_names``, it draws its
weights from a generator seeded with ``seed`` (restoring the caller's random state), builds
in ``model_dtype``, returns a :class:`~nequip.nn.graph_module.GraphModel` and records its
config as plain data with a ``_target_`` (``model.model_config``), so that checkpoints
rebuild it.
"""

from typing import Mapping, Optional, Sequence, Union

import torch

from nequip.data import keys
from nequip.nn.atomwise import AtomwiseReduce
from nequip.nn.convnet import ConvNetLayer
from nequip.nn.force_stress import ForceStressOutput
from nequip.nn.graph_module import GraphModel, SequentialGraphNetwork
from nequip.nn.mlp import ScalarMLP
from nequip.nn.node_embedding import NodeTypeEmbed
from nequip.nn.radial import BesselEdgeLengthEncoding, EdgeLengthNormalizer, PolynomialCutoff
from nequip.nn.scale_shift import PerTypeScaleShift
from nequip.nn.spherical_harmonics import SphericalHarmonicEdgeAttrs

__all__ = ["ScalarGNNModel"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}
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
    if model_dtype not in _DTYPES:
        raise ValueError(f"model_dtype={model_dtype!r} is not allowed; allowed are {list(_DTYPES)}")
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
        "avg_num_neighbors": avg_num_neighbors if not isinstance(avg_num_neighbors, Mapping) else dict(avg_num_neighbors),
        "per_type_energy_scales": per_type_energy_scales if not isinstance(per_type_energy_scales, Mapping) else dict(per_type_energy_scales),
        "per_type_energy_shifts": per_type_energy_shifts if not isinstance(per_type_energy_shifts, Mapping) else dict(per_type_energy_shifts),
        "compile_mode": compile_mode,
    }
    previous = torch.get_default_dtype()
    torch.set_default_dtype(_DTYPES[model_dtype])
    try:
        with torch.random.fork_rng(devices=[]):
            torch.random.default_generator.manual_seed(seed)
            modules = {"type_embed": NodeTypeEmbed(list(type_names), num_features)}
            modules["spharm"] = SphericalHarmonicEdgeAttrs(0, irreps_in=modules["type_embed"].irreps_out)
            modules["edge_norm"] = EdgeLengthNormalizer(r_max, list(type_names), None, irreps_in=modules["spharm"].irreps_out)
            modules["bessel"] = BesselEdgeLengthEncoding(
                r_max, num_bessels, cutoff=PolynomialCutoff(polynomial_cutoff_p), irreps_in=modules["edge_norm"].irreps_out
            )
            irreps = modules["bessel"].irreps_out
            for layer in range(num_layers):
                conv = ConvNetLayer(
                    irreps,
                    f"{num_features}x0e",
                    radial_mlp_depth=1,
                    radial_mlp_width=2 * num_features,
                    use_sc=layer > 0,
                    avg_num_neighbors=avg_num_neighbors,
                    type_names=list(type_names),
                )
                modules[f"layer{layer}"] = conv
                irreps = conv.irreps_out
            modules["readout"] = ScalarMLP(1, bias=False, out_field=keys.PER_ATOM_ENERGY_KEY, irreps_in=irreps)
            modules["scale_shift"] = PerTypeScaleShift(
                list(type_names), scales=per_type_energy_scales, shifts=per_type_energy_shifts, irreps_in=modules["readout"].irreps_out
            )
            modules["total_energy"] = AtomwiseReduce(
                keys.PER_ATOM_ENERGY_KEY, keys.TOTAL_ENERGY_KEY, irreps_in=modules["scale_shift"].irreps_out
            )
            model = GraphModel(
                ForceStressOutput(SequentialGraphNetwork(modules)),
                type_names=list(type_names),
                r_max=r_max,
                model_dtype=model_dtype,
            )
    finally:
        torch.set_default_dtype(previous)
    model.model_config = config
    return model


# checkpoints rebuild only functions marked as model builders (see nequip.model.checkpoint)
ScalarGNNModel.is_nequip_model_builder = True
