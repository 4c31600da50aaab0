"""The NequIP energy network assembled from this package's layers, in upstream NequIP's module names.

type embedding (``type_embed``) -> edge spherical harmonics (``spharm``) -> normalized edge
lengths (``edge_norm``) -> Bessel basis times polynomial cutoff (``bessel_encode``) ->
convnet layers (``layer{i}_convnet``; no self-connection and no residual in the first, so
an isolated atom's features are exactly zero) -> per-atom energy readout
(``per_atom_energy_readout``, no bias) -> per-type scale and shift
(``per_type_energy_scale_shift``) -> optional pair potential (``pair_potential``) -> sum
(``total_energy_sum``). An isolated atom therefore has energy exactly its per-type shift.

:func:`nequip_energy_network` is the one place this assembly is written:
``nequip.model.FullNequIPGNNModel`` (which checks the hyperparameters and adds forces), the
test-kit's :func:`~nequip.nn.testkit.small_nequip_model` and extension packages build on it.
Modules are created in the order above, so the same random state gives the same weights.
"""

from typing import Callable, Dict, Mapping, Optional, Sequence, Type, Union

from e3nn import o3

from nequip.data import keys

from .atomwise import AtomwiseReduce
from .convnet import ConvNetLayer
from .graph_module import GraphModuleMixin, IrrepsDict, SequentialGraphNetwork
from .kernels.protocols import ConvolutionKernel
from .kernels.tensor_product import TensorProductScatter
from .mlp import ScalarMLP
from .node_embedding import NodeTypeEmbed
from .per_type import PerTypeValue
from .radial import BesselEdgeLengthEncoding, EdgeLengthNormalizer, PolynomialCutoff
from .scale_shift import PerTypeScaleShift
from .spherical_harmonics import SphericalHarmonicEdgeAttrs


def nequip_energy_network(
    type_names: Sequence[str],
    r_max: float,
    feature_irreps_hidden: Sequence[Union[str, o3.Irreps]],
    irreps_edge_sh: Union[int, str, o3.Irreps],
    type_embed_num_features: int,
    radial_mlp_depth: Sequence[int],
    radial_mlp_width: Sequence[int],
    avg_num_neighbors: PerTypeValue,
    per_type_energy_scales: Optional[PerTypeValue] = None,
    per_type_energy_shifts: Optional[PerTypeValue] = None,
    per_type_energy_scales_trainable: bool = False,
    per_type_energy_shifts_trainable: bool = False,
    per_edge_type_cutoff: Optional[Mapping] = None,
    num_bessels: int = 8,
    bessel_trainable: bool = False,
    polynomial_cutoff_p: int = 6,
    readout_mlp_hidden_layers_depth: int = 0,
    readout_mlp_hidden_layers_width: Optional[int] = None,
    readout_mlp_nonlinearity: Optional[str] = "silu",
    convnet_sc: bool = True,
    learnable_shift: bool = False,
    convnet_resnet: bool = False,
    convnet_nonlinearity_type: str = "gate",
    convnet_nonlinearity_scalars: Optional[Mapping[str, str]] = None,
    convnet_nonlinearity_gates: Optional[Mapping[str, str]] = None,
    tp_scatter: Type[ConvolutionKernel] = TensorProductScatter,
    pair_ordered_edges: bool = True,
    node_attrs_per_type: bool = True,
    pair_potential: Optional[Callable[[IrrepsDict], GraphModuleMixin]] = None,
) -> SequentialGraphNetwork:
    """Build the network of the module docstring: per-atom and total energies, no forces.

    Args:
        type_names: atom type names, in type-index order.
        r_max: cutoff radius (length unit of the data).
        feature_irreps_hidden: output feature irreps of each convnet layer (one per layer).
        irreps_edge_sh: ``l_max`` (int) or irreps of the edge spherical harmonics.
        type_embed_num_features: width of the type embedding.
        radial_mlp_depth: hidden layers of each layer's radial MLP (one int per layer).
        radial_mlp_width: hidden width of each layer's radial MLP (one int per layer).
        avg_num_neighbors: normalization of the neighbor sums, a number or ``{type name: number}``.
        per_type_energy_scales: per-atom energy scales, a number, a dict or ``None`` (none).
        per_type_energy_shifts: per-atom energy shifts, a number, a dict or ``None`` (none).
        per_type_energy_scales_trainable: learn the scales.
        per_type_energy_shifts_trainable: learn the shifts.
        per_edge_type_cutoff: per-edge-type cutoffs (see :class:`~nequip.nn.radial.EdgeLengthNormalizer`).
        num_bessels: number of Bessel basis functions.
        bessel_trainable: learn the Bessel frequencies.
        polynomial_cutoff_p: exponent p of the polynomial cutoff.
        readout_mlp_hidden_layers_depth: hidden layers of the per-atom readout.
        readout_mlp_hidden_layers_width: their width (default: dimension of the last features).
        readout_mlp_nonlinearity: nonlinearity of the readout's hidden layers.
        convnet_sc: self-connections in the convnet layers after the first.
        learnable_shift: the first layer too gets the self-connection (``convnet_sc``) and
            the residual update (``convnet_resnet``): an isolated atom's energy is then no
            longer fixed to its per-type shift but learned (needs one of the two).
        convnet_resnet: residual updates in the convnet layers after the first.
        convnet_nonlinearity_type: ``gate`` or ``norm``.
        convnet_nonlinearity_scalars: ``{"e": name, "o": name}`` (default silu/tanh).
        convnet_nonlinearity_gates: ``{"e": name, "o": name}`` (default silu/tanh).
        tp_scatter: convolution kernel class (see :class:`~nequip.nn.interaction.InteractionBlock`).
        pair_ordered_edges: radial MLPs once per pair of edges i->j, j->i, when the cutoffs
            are symmetric (see :class:`~nequip.nn.interaction.InteractionBlock`).
        node_attrs_per_type: self-connections computed per type (the node attributes come
            from the type embedding).
        pair_potential: called with the fields written so far (``irreps_out`` after the scale
            and shift), returns a graph module adding to the per-atom energies; ``None``: none.

    Raises:
        ValueError: from the layers, naming the argument (hyperparameters are checked by them).
    """
    type_names = list(type_names)
    if learnable_shift and not (convnet_sc or convnet_resnet):
        raise ValueError("learnable_shift=True needs convnet_sc=True or convnet_resnet=True, got both False")
    modules: Dict[str, GraphModuleMixin] = {"type_embed": NodeTypeEmbed(type_names, type_embed_num_features)}
    modules["spharm"] = SphericalHarmonicEdgeAttrs(irreps_edge_sh, irreps_in=modules["type_embed"].irreps_out)
    modules["edge_norm"] = EdgeLengthNormalizer(
        r_max, type_names, per_edge_type_cutoff, irreps_in=modules["spharm"].irreps_out
    )
    modules["bessel_encode"] = BesselEdgeLengthEncoding(
        r_max,
        num_bessels=num_bessels,
        trainable=bessel_trainable,
        cutoff=PolynomialCutoff(polynomial_cutoff_p),
        irreps_in=modules["edge_norm"].irreps_out,
    )
    irreps = modules["bessel_encode"].irreps_out
    for layer, hidden in enumerate(feature_irreps_hidden):
        # no self-connection/residual in the first layer (isolated atoms get zero features),
        # unless learnable_shift asks for them
        first_and_fixed = layer == 0 and not learnable_shift
        convnet = ConvNetLayer(
            irreps,
            hidden,
            convolution_kwargs={
                "radial_mlp_depth": radial_mlp_depth[layer],
                "radial_mlp_width": radial_mlp_width[layer],
                "use_sc": convnet_sc and not first_and_fixed,
                "is_first_layer": layer == 0,
                "type_names": type_names,
                "avg_num_neighbors": avg_num_neighbors,
                "tp_scatter": tp_scatter,
                # both directions of a pair share length and (if symmetric) cutoff
                "pair_ordered_edges": pair_ordered_edges and modules["edge_norm"].symmetric,
                "node_attrs_per_type": node_attrs_per_type,
            },
            resnet=convnet_resnet and not first_and_fixed,
            nonlinearity_type=convnet_nonlinearity_type,
            nonlinearity_scalars=convnet_nonlinearity_scalars,
            nonlinearity_gates=convnet_nonlinearity_gates,
        )
        modules[f"layer{layer}_convnet"] = convnet
        irreps = convnet.irreps_out
    if readout_mlp_hidden_layers_width is None:
        readout_mlp_hidden_layers_width = irreps[keys.NODE_FEATURES_KEY].dim
    modules["per_atom_energy_readout"] = ScalarMLP(
        1,
        hidden_layers_depth=readout_mlp_hidden_layers_depth,
        hidden_layers_width=readout_mlp_hidden_layers_width,
        nonlinearity=readout_mlp_nonlinearity,
        bias=False,
        forward_weight_init=True,
        field=keys.NODE_FEATURES_KEY,
        out_field=keys.PER_ATOM_ENERGY_KEY,
        irreps_in=irreps,
    )
    modules["per_type_energy_scale_shift"] = PerTypeScaleShift(
        type_names,
        field=keys.PER_ATOM_ENERGY_KEY,
        out_field=keys.PER_ATOM_ENERGY_KEY,
        scales=per_type_energy_scales,
        shifts=per_type_energy_shifts,
        scales_trainable=per_type_energy_scales_trainable,
        shifts_trainable=per_type_energy_shifts_trainable,
        irreps_in=modules["per_atom_energy_readout"].irreps_out,
    )
    network = SequentialGraphNetwork(modules)
    if pair_potential is not None:
        network.append("pair_potential", pair_potential(network.irreps_out))
    network.append(
        "total_energy_sum",
        AtomwiseReduce(keys.PER_ATOM_ENERGY_KEY, keys.TOTAL_ENERGY_KEY, reduce="sum", irreps_in=network.irreps_out),
    )
    return network
