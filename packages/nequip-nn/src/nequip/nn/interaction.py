"""The NequIP interaction block: equivariant convolution of neighbor features.

For atom i with features x (upstream NequIP's ``InteractionBlock``):

1. optional self-connection ``sc_i = FCTP(x_i, node_attrs_i)`` (a fully connected tensor
   product with the type embedding), computed from the input features (per type when the
   node attributes are a per-type table, see ``node_attrs_per_type``);
2. ``h = Linear_1(x)``, then ``h_j <- h_j / sqrt(avg_num_neighbors[t_j])`` (one value, or
   one per type, applied to the features before they are sent along edges, as upstream);
3. ``m_i = sum_{j in N(i)} TP(h_j, Y(r_ij); w(r_ij))``: the "uvu" tensor product with the
   edge spherical harmonics, weighted per edge and path by a radial MLP of the edge
   embedding (:class:`nequip.nn.kernels.TensorProductScatter`);
4. ``out_i = Linear_2(m_i) (+ sc_i)``.

No biases anywhere: an atom without neighbors gets ``out_i = sc_i``, and exactly 0 when
``use_sc=False`` (as in the first layer).
"""

from typing import Any, Mapping, Optional, Sequence, Type, Union

import torch
from e3nn import o3

from nequip.data import AtomicDataDict, keys

from .graph_module import GraphModuleMixin
from .kernels.protocols import ConvolutionKernel
from .kernels.self_connection import check_per_type_self_connection, per_type_self_connection
from .kernels.tensor_product import TensorProductScatter
from .mlp import ScalarMLPFunction
from .neighbor_norm import AvgNumNeighborsNorm
from .per_type import PerTypeValue

AvgNumNeighbors = PerTypeValue


class InteractionBlock(GraphModuleMixin, torch.nn.Module):
    """NequIP convolution (see module docstring); writes ``node_features`` with ``irreps_out``.

    Args:
        irreps_in: available fields; needs ``node_features``, ``node_attrs``, ``edge_attrs``
            (spherical harmonics, multiplicity 1) and ``edge_embedding`` (even scalars).
        irreps_out: irreps of the output node features.
        radial_mlp_depth: hidden layers of the radial MLP (default 1).
        radial_mlp_width: hidden width of the radial MLP (default 8; NequIPGNNModel uses 128).
        use_sc: add the self-connection (default ``True``).
        is_first_layer: whether this is a model's first interaction (upstream NequIP uses it
            to skip ghost-atom exchange in LAMMPS; every atom of a data dict here is a real
            atom, so it does not change the computation).
        type_names: atom type names (required for a per-type ``avg_num_neighbors``).
        avg_num_neighbors: normalization of the neighbor sum (number or per-type dict,
            :class:`~nequip.nn.neighbor_norm.AvgNumNeighborsNorm`); required.
        tp_scatter: convolution kernel class, a
            :class:`~nequip.nn.kernels.protocols.ConvolutionKernel` (default the fast
            :class:`~nequip.nn.kernels.TensorProductScatter`; tests pass the reference). The
            radial MLP produces the weights in the kernel's ``weight_order``.
        pair_ordered_edges: the edges come in pair order (edge ``e + E/2`` is the reverse
            of edge ``e``, see :func:`nequip.data.neighborlist.edge_pair_order`) and
            ``edge_embedding`` is the same for both directions of a pair (a function of
            ``|r_ij|`` with a symmetric cutoff): the radial MLP then runs once per pair, half
            the work. A ``GraphModel`` around this block brings any full list into pair
            order. Default ``False``.
        node_attrs_per_type: ``node_attrs`` depend only on the atom type (those of
            :class:`~nequip.nn.node_embedding.NodeTypeEmbed` do; needs ``type_names``): the
            self-connection is then computed per type
            (:func:`~nequip.nn.kernels.per_type_self_connection`, the same numbers with
            T instead of D multiply-adds per weight for T types and D attributes), when
            T <= D. Default ``False``.
    """

    def __init__(
        self,
        irreps_in: Mapping[str, Any],
        irreps_out: Union[str, o3.Irreps],
        radial_mlp_depth: int = 1,
        radial_mlp_width: int = 8,
        use_sc: bool = True,
        is_first_layer: bool = False,
        type_names: Optional[Sequence[str]] = None,
        avg_num_neighbors: Optional[AvgNumNeighbors] = None,
        *,
        tp_scatter: Type[ConvolutionKernel] = TensorProductScatter,
        pair_ordered_edges: bool = False,
        node_attrs_per_type: bool = False,
    ):
        super().__init__()
        self.pair_ordered_edges = bool(pair_ordered_edges)
        self.is_first_layer = bool(is_first_layer)
        if node_attrs_per_type and not type_names:
            raise ValueError("node_attrs_per_type=True needs type_names (the number of types)")
        required = [keys.NODE_FEATURES_KEY, keys.NODE_ATTRS_KEY, keys.EDGE_ATTRS_KEY, keys.EDGE_EMBEDDING_KEY]
        self._init_irreps(
            irreps_in=irreps_in, required_irreps_in=required, irreps_out={keys.NODE_FEATURES_KEY: irreps_out}
        )
        embedding = self.irreps_in[keys.EDGE_EMBEDDING_KEY]
        if embedding is None or any(ir.l != 0 or ir.p != 1 for _, ir in embedding):
            raise ValueError(f"InteractionBlock needs edge_embedding to be even scalars 'Nx0e', got {embedding}")
        self.avg_num_neighbors_norm = AvgNumNeighborsNorm(type_names, avg_num_neighbors)
        self.avg_num_neighbors = avg_num_neighbors
        self.use_sc = use_sc

        feature_in = self.irreps_in[keys.NODE_FEATURES_KEY]
        feature_out = self.irreps_out[keys.NODE_FEATURES_KEY]
        self.linear_1 = o3.Linear(feature_in, feature_in)
        # the radial MLP writes the weights in the kernel's column order (a permutation of its
        # last layer's weights, not of every edge's outputs)
        self.tp_scatter = tp_scatter(
            feature_in, self.irreps_in[keys.EDGE_ATTRS_KEY], feature_out, weights_in_kernel_order=True
        )
        self.edge_mlp = ScalarMLPFunction(
            embedding.num_irreps,
            self.tp_scatter.weight_numel,
            hidden_layers_depth=radial_mlp_depth,
            hidden_layers_width=radial_mlp_width,
            nonlinearity="silu",
            bias=False,
            output_order=self.tp_scatter.weight_order,
        )
        self.linear_2 = o3.Linear(self.tp_scatter.irreps_mid.simplify(), feature_out)
        self.sc = (
            o3.FullyConnectedTensorProduct(feature_in, self.irreps_in[keys.NODE_ATTRS_KEY], feature_out)
            if use_sc
            else None
        )
        self.num_types = len(type_names) if type_names else None
        # per type only when it is less work: T vs D multiply-adds per weight
        self.sc_per_type = bool(
            node_attrs_per_type and use_sc and self.num_types <= self.irreps_in[keys.NODE_ATTRS_KEY].dim
        )
        if self.sc_per_type:
            check_per_type_self_connection(self.sc)

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        x = data[keys.NODE_FEATURES_KEY]
        if self.sc_per_type:
            types = data[keys.ATOM_TYPE_KEY].view(-1)
            sc = per_type_self_connection(self.sc, x, data[keys.NODE_ATTRS_KEY], types, self.num_types)
        else:
            sc = self.sc(x, data[keys.NODE_ATTRS_KEY]) if self.sc is not None else None
        x = self.linear_1(x) * self.avg_num_neighbors_norm.factors(data[keys.ATOM_TYPE_KEY])
        edge_index = data[keys.EDGE_INDEX_KEY]
        embedding = data[keys.EDGE_EMBEDDING_KEY]
        # with pair-ordered edges both directions of a pair have the same radial weights: one row per pair
        weights = self.edge_mlp(embedding[: embedding.shape[0] // 2] if self.pair_ordered_edges else embedding)
        x = self.tp_scatter(
            x,
            data[keys.EDGE_ATTRS_KEY],
            weights,
            edge_index[0],
            edge_index[1],
            weights_per_pair=self.pair_ordered_edges,
        )
        x = self.linear_2(x)
        if sc is not None:
            x = x + sc
        data[keys.NODE_FEATURES_KEY] = x
        return data
