r"""Edge convolution: tensor product of neighbor features with edge spherical harmonics, summed per center.

For an edge e = (i, j) with center i and neighbor j, every path q = (l_1, l_2 \to l_3) of
the "uvu" tensor product gives, for each channel u of the input irrep,

.. math::

    m^{(q)}_{e,u,k} = w_{e,q,u}\,\sqrt{2 l_3 + 1}\sum_{a,b} C^{l_1 l_2 l_3}_{a b k}\, x_{j,u,a}\, Y_{e,b}

(``C`` the normalized Wigner-3j symbols of e3nn, ``Y`` the edge spherical harmonics,
``w`` per-edge weights from the radial MLP); the output of atom i is
``sum_{e: center(e) = i} m_e``. Paths and their order are those of upstream NequIP's
interaction block (:func:`uvu_instructions`), and the normalization is that of
``e3nn.o3.TensorProduct`` (``component`` irreps, ``element`` paths), so the numbers agree
with e3nn to rounding.

Two implementations:

* :class:`ReferenceTensorProductScatter`: e3nn's generic ``o3.TensorProduct`` on gathered
  neighbor features, then ``index_add_`` (the formulation of upstream NequIP).
* :class:`TensorProductScatter` (fast): for each input irrep, the Clebsch-Gordan
  coefficients of all its paths are stacked into one matrix (dim_sh, K * d_1), so
  ``T_e = Y_e @ CG`` (K, d_1) holds every path's coupling of the edge harmonics; the
  messages of all paths of that irrep are one batched matmul ``T_e @ x_j`` with the
  neighbor features laid out (d_1, u), then a broadcast multiply by the weights and a
  scatter-sum, over slices of edges that stay in cache. The result is permuted into the
  reference layout at the node level, where it is cheap. On the CPU it calls the fused C++
  kernel of the optional ``nequip-kernels`` package instead (same contract and numbers to
  rounding), which never writes a per-edge tensor.
"""

import contextlib
import dataclasses
import math
import warnings
from typing import Iterator, List, Optional, Sequence, Tuple

import torch
from e3nn import o3
from torch.utils.checkpoint import checkpoint

from .protocols import GraphCompilerFormulation

try:  # optional accelerator: the fused CPU convolution of nequip-kernels
    from nequip.kernels import tensor_product_scatter as _fused_tensor_product_scatter
except ModuleNotFoundError as error:  # not installed
    if not (error.name or "").startswith("nequip.kernels"):
        raise
    _fused_tensor_product_scatter = None
except ImportError as error:  # installed, but its compiled library does not load (e.g. built for another torch)
    warnings.warn(
        f"{error}. Until then the convolution runs in PyTorch operations (same numbers, slower on the CPU).",
        stacklevel=2,
    )
    _fused_tensor_product_scatter = None

#: Whether the fused CPU convolution of ``nequip-kernels`` is available (see :class:`TensorProductScatter`).
HAS_FUSED_KERNELS: bool = _fused_tensor_product_scatter is not None

Instruction = Tuple[int, int, int, str, bool]


def _scatter_rows_for_graph_compiler(rows: torch.Tensor, index: torch.Tensor, num_rows: int) -> torch.Tensor:
    """(num_rows, w) sums of the (E, w) ``rows`` by ``index``, written for inductor.

    With several threads inductor leaves scatter-sums to ATen, whose sorted, parallel kernel
    takes only whole contiguous buffers. A plain (num_rows, w) sum that a ``cat`` reads is
    placed by inductor in a slice of the ``cat``'s buffer, where ATen falls back to its serial
    generic kernel; the sum is therefore made in a (num_rows, 1, w) buffer and read through a
    view, which inductor copies into the ``cat`` instead. ``scatter_add_`` rather than
    ``index_add_``: inductor would generate atomic adds for the latter.
    """
    width = rows.shape[1]
    out = torch.zeros(num_rows, 1, width, dtype=rows.dtype, device=rows.device)
    out.scatter_add_(0, index.view(-1, 1, 1).expand(-1, 1, width), rows.view(-1, 1, width))
    return out.view(num_rows, width)


class _GatherRowsForGraphCompiler(torch.autograd.Function):
    """``x[index]`` whose gradient is :func:`_scatter_rows_for_graph_compiler` (differentiable,
    so forces can be trained on); autograd's own gradient of a gather is a plain scatter-sum,
    which inductor places in slices of the ``cat`` of the gradients of the feature blocks."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(index)
        ctx.num_rows = x.shape[0]
        return torch.gather(x, 0, index.view(-1, 1).expand(-1, x.shape[1]))

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> Tuple[torch.Tensor, None]:
        (index,) = ctx.saved_tensors
        return _scatter_rows_for_graph_compiler(grad, index, ctx.num_rows), None


def uvu_instructions(
    irreps_in: o3.Irreps, irreps_sh: o3.Irreps, irreps_out: o3.Irreps
) -> Tuple[o3.Irreps, List[Instruction]]:
    """Paths of NequIP's convolution: every ``l_1 x l_2 -> l_3`` with ``l_3`` in ``irreps_out``.

    Args:
        irreps_in: node feature irreps (input 1).
        irreps_sh: edge spherical-harmonic irreps (input 2).
        irreps_out: irreps the convolution should produce (only their irrep types matter).

    Returns:
        ``(irreps_mid, instructions)``: ``irreps_mid`` has one ``mul x l_3`` entry per path,
        sorted; ``instructions`` are e3nn ``(i_1, i_2, i_out, "uvu", True)`` tuples in
        path order (which is also the order of the weights).
    """
    mid = []
    instructions = []
    for i, (mul, ir_in) in enumerate(irreps_in):
        for j, (_, ir_edge) in enumerate(irreps_sh):
            for ir_out in ir_in * ir_edge:
                if ir_out in irreps_out:
                    instructions.append((i, j, len(mid), "uvu", True))
                    mid.append((mul, ir_out))
    irreps_mid, perm, _ = o3.Irreps(mid).sort()
    instructions = [(i1, i2, perm[k], mode, train) for i1, i2, k, mode, train in instructions]
    return irreps_mid, instructions


def _check_irreps(irreps_in: o3.Irreps, irreps_sh: o3.Irreps) -> None:
    for mul, ir in irreps_sh:
        if mul != 1:
            raise ValueError(
                f"irreps_sh={irreps_sh} has multiplicity {mul} for {ir}; edge spherical harmonics "
                "must have multiplicity 1 per irrep"
            )
    if irreps_in.dim == 0:
        raise ValueError(f"irreps_in={irreps_in} is empty; the convolution needs input features")


class ReferenceTensorProductScatter(torch.nn.Module):
    """Slow, obviously-correct convolution: e3nn ``TensorProduct`` per edge + ``index_add_``.

    Args:
        irreps_in: node feature irreps.
        irreps_sh: edge spherical-harmonic irreps (multiplicity 1 each).
        irreps_out: irreps types to produce (see :func:`uvu_instructions`).
        weights_in_kernel_order: accepted for the
            :class:`~nequip.nn.kernels.protocols.ConvolutionKernel` protocol; this kernel
            reads the weights in e3nn's order (:attr:`weight_order` is ``None``), so it
            changes nothing.
    """

    #: the kernel reads ``edge_weight`` in e3nn's column order
    weight_order: Optional[torch.Tensor] = None

    def __init__(self, irreps_in, irreps_sh, irreps_out, *, weights_in_kernel_order: bool = False):
        super().__init__()
        self.irreps_in, self.irreps_sh = o3.Irreps(irreps_in), o3.Irreps(irreps_sh)
        _check_irreps(self.irreps_in, self.irreps_sh)
        self.irreps_mid, self.instructions = uvu_instructions(self.irreps_in, self.irreps_sh, o3.Irreps(irreps_out))
        self.tp = o3.TensorProduct(
            self.irreps_in,
            self.irreps_sh,
            self.irreps_mid,
            self.instructions,
            shared_weights=False,
            internal_weights=False,
        )
        self.weight_numel = self.tp.weight_numel

    def forward(
        self,
        x: torch.Tensor,
        edge_attr: torch.Tensor,
        edge_weight: torch.Tensor,
        edge_center: torch.Tensor,
        edge_neighbor: torch.Tensor,
        weights_per_pair: bool = False,
    ) -> torch.Tensor:
        """See :meth:`TensorProductScatter.forward`."""
        if weights_per_pair:
            edge_weight = torch.cat([edge_weight, edge_weight])
        messages = self.tp(x[edge_neighbor], edge_attr, edge_weight)
        out = torch.zeros(x.shape[0], self.irreps_mid.dim, dtype=messages.dtype, device=messages.device)
        return out.index_add_(0, edge_center, messages)


@dataclasses.dataclass(frozen=True)
class PathGroup:
    """The paths of one input irrep that have the same output dimension.

    Attributes:
        num_paths: number of paths P.
        d3: output dimension 2 l_3 + 1 of each path.
        mul: channels u of the input irrep.
    """

    num_paths: int
    d3: int
    mul: int

    @property
    def weight_size(self) -> int:
        """Per-edge weights of the group: (P, u)."""
        return self.num_paths * self.mul

    @property
    def output_size(self) -> int:
        """Output columns of the group, laid out (P, m_3, u)."""
        return self.num_paths * self.d3 * self.mul


@dataclasses.dataclass(frozen=True)
class IrrepBlock:
    """All paths of one input irrep, grouped by output dimension.

    Attributes:
        input_index: index of the irrep in ``irreps_in``.
        mul: its channels u.
        d1: its dimension 2 l_1 + 1.
        groups: its path groups, by increasing output dimension.
    """

    input_index: int
    mul: int
    d1: int
    groups: Tuple[PathGroup, ...]

    @property
    def num_couplings(self) -> int:
        """K = sum of the paths' output dimensions: rows of an edge's coupling matrix (K, d1)."""
        return sum(group.num_paths * group.d3 for group in self.groups)

    @property
    def coupling_sizes(self) -> List[int]:
        """Rows of the coupling matrix that belong to each group."""
        return [group.num_paths * group.d3 for group in self.groups]


class BlockCouplings(torch.nn.Module):
    """The stacked Clebsch-Gordan coefficients of one :class:`IrrepBlock`, (dim_sh, K * d1).

    A module per block, so that the model's ``.to()`` moves and casts them with the rest.
    """

    def __init__(self, couplings: torch.Tensor):
        super().__init__()
        self.register_buffer("cg", couplings, persistent=False)


class TensorProductScatter(GraphCompilerFormulation, torch.nn.Module):
    """Fast convolution with the same inputs, outputs and numbers as :class:`ReferenceTensorProductScatter`.

    For each input irrep (``u`` channels of dimension ``d_1``) the Clebsch-Gordan
    coefficients of all its paths are stacked into one matrix, so the couplings of an
    edge's spherical harmonics are ``T_e = Y_e @ CG``, (K, d_1) with K = sum of the paths'
    output dimensions. The messages of all paths are one batched matmul
    ``T_e (K, d_1) @ x_j^T (d_1, u)``, laid out (path, m_3, u) so the per-path weights
    ``w_e (path, u)`` broadcast along a contiguous axis; paths are grouped by output
    dimension for that multiply, and each group is scatter-summed into its node output.
    On CPU, edges go in slices of ``edge_chunk_size`` so the per-edge intermediates stay in
    cache instead of being allocated at full size; on GPU and under ``torch.compile`` all
    edges go at once. The node outputs are finally permuted into e3nn's layout.
    ``recompute_in_backward`` recomputes each slice's messages in backward instead of
    keeping them (``torch.utils.checkpoint``): less peak memory for more time.

    On CPU tensors, when the optional ``nequip-kernels`` package is installed
    (:data:`HAS_FUSED_KERNELS`) and ``fused_kernel`` is on, the convolution is one call of its
    fused C++/OpenMP kernel (:func:`nequip.kernels.tensor_product_scatter`): one pass over the
    edges that couples, weights and sums each edge's messages in registers, one for the first
    derivatives, and calls of these two for the derivatives of those (force training
    differentiates the forces again). It does so eagerly and in compiled graphs, for training
    and inference: ``torch.compile`` and ``torch.export`` keep each call as one operator, and
    exported models (AOTInductor packages, the LAMMPS export) call the operator library
    (:data:`nequip.kernels.OPERATOR_LIBRARY`), which their loaders load.

    Without the fused kernel (on GPUs, without ``nequip-kernels``, or with
    ``fused_kernel=False``), in its graph-compiler formulation
    (:meth:`graph_compiler_formulation`, entered while the model is traced for inductor by
    :func:`traced_for_graph_compiler`), four things
    change, none of the numbers beyond rounding: edges are not sliced (a loop over a
    symbolic number of slices would bake the traced edge count into the graph); the
    batched matmul becomes ``d_1`` broadcast multiply-adds, which inductor fuses with the
    gather and the weighting into a few loops over edges (a batched matmul of (K, 3) by
    (3, u) matrices is an inefficient library call); the neighbor features are first
    written channel-last at the node level (a small matmul with the identity, which
    inductor does not fuse away), so that those loops read them with contiguous vector
    loads instead of strided gathers; and the gather of neighbor features and the
    scatter-sum of messages are ``gather`` and ``scatter_add_`` with expanded indices, each
    sum into a buffer of its own (:func:`_scatter_rows_for_graph_compiler`, also the gradient
    of the gather), so that every scatter-sum runs in ATen's sorted, parallel CPU kernel:
    inductor's own scatter loops add atomically as soon as its kernels use more than one
    thread, which costs more than a second thread gains.
    The second and third speed up compiled MD steps on the CPU only together, the fourth
    makes them faster with two threads (``docs/benchmarks.md``). With ``one_scatter_sum``
    (:func:`traced_for_graph_compiler`, for inference graphs compiled for several CPU
    threads) the neighbor features of all blocks are gathered at once and the messages of all
    path groups summed at once, into whole buffers, which ATen's parallel scatter kernel needs
    (see ``_convolve_in_one_scatter``).

    Satisfies :class:`~nequip.nn.kernels.protocols.ConvolutionKernel`.

    Args:
        irreps_in: node feature irreps.
        irreps_sh: edge spherical-harmonic irreps (multiplicity 1 each).
        irreps_out: irreps types to produce (see :func:`uvu_instructions`).
        weights_in_kernel_order: the caller passes ``edge_weight`` with its columns already
            in :attr:`weight_order` (see the protocol); default ``False`` (e3nn's order).
        edge_chunk_size: edges per slice on CPU (``<= 0``: all at once).
        recompute_in_backward: trade time for memory, see above (default ``False``).
        fused_kernel: call the fused kernel of ``nequip-kernels`` where it applies (see
            above; default ``True``); ``False`` keeps the PyTorch formulations everywhere.

    Attributes:
        irreps_mid: output irreps (one entry per path, sorted).
        weight_numel: number of per-edge weights (columns of ``edge_weight``).
        blocks: one :class:`IrrepBlock` per input irrep with paths.

    Example:
        >>> tp = TensorProductScatter("4x0e+4x1o", "1x0e+1x1o", "4x0e+4x1o")
        >>> x, sh = torch.randn(3, 16), torch.randn(5, 4)
        >>> w = torch.randn(5, tp.weight_numel)
        >>> center, neighbor = torch.tensor([0, 0, 1, 2, 2]), torch.tensor([1, 2, 0, 0, 1])
        >>> tp(x, sh, w, center, neighbor).shape == (3, tp.irreps_mid.dim)
        True
    """

    def __init__(
        self,
        irreps_in,
        irreps_sh,
        irreps_out,
        *,
        weights_in_kernel_order: bool = False,
        edge_chunk_size: int = 8192,
        recompute_in_backward: bool = False,
        fused_kernel: bool = True,
    ):
        super().__init__()
        self.irreps_in, self.irreps_sh = o3.Irreps(irreps_in), o3.Irreps(irreps_sh)
        _check_irreps(self.irreps_in, self.irreps_sh)
        self.irreps_mid, self.instructions = uvu_instructions(self.irreps_in, self.irreps_sh, o3.Irreps(irreps_out))
        self.edge_chunk_size = int(edge_chunk_size)
        self.recompute_in_backward = bool(recompute_in_backward)
        self.weights_in_kernel_order = bool(weights_in_kernel_order)
        self.fused_kernel = bool(fused_kernel)
        self._one_scatter_sum: Optional[bool] = None  # None: eager formulation
        sh_offsets = [0]
        for mul_ir in self.irreps_sh:
            sh_offsets.append(sh_offsets[-1] + mul_ir.dim)
        mid_offsets = [0]
        for mul_ir in self.irreps_mid:
            mid_offsets.append(mid_offsets[-1] + mul_ir.dim)
        dim_sh = self.irreps_sh.dim

        self._in_sizes: List[int] = [mul_ir.dim for mul_ir in self.irreps_in]
        self.blocks: List[IrrepBlock] = []
        couplings: List[BlockCouplings] = []
        weight_columns: List[torch.Tensor] = []
        perm = torch.empty(self.irreps_mid.dim, dtype=torch.long)
        weight_start, out_start = 0, 0
        for i1, (mul, ir1) in enumerate(self.irreps_in):
            # instructions are ordered by input irrep: this block's weights are (P, mul) contiguous
            paths = [ins for ins in self.instructions if ins[0] == i1]
            if not paths:
                continue
            block_cg: List[torch.Tensor] = []
            groups: List[PathGroup] = []
            for d3 in sorted({self.irreps_mid[ins[2]].ir.dim for ins in paths}):
                members = [(p, ins) for p, ins in enumerate(paths) if self.irreps_mid[ins[2]].ir.dim == d3]
                num_paths = len(members)
                cg = torch.zeros(dim_sh, num_paths, d3, ir1.dim, dtype=torch.float64)
                for g, (p, (_, i2, i_out, _, _)) in enumerate(members):
                    l2, l3 = self.irreps_sh[i2].ir.l, self.irreps_mid[i_out].ir.l
                    # e3nn's component normalization gives this path the weight sqrt(2 l3 + 1)
                    w3j = o3.wigner_3j(ir1.l, l2, l3, dtype=torch.float64)  # (d1, d2, d3)
                    cg[sh_offsets[i2] : sh_offsets[i2 + 1], g] = math.sqrt(d3) * w3j.permute(1, 2, 0)
                    weight_columns.append(weight_start + p * mul + torch.arange(mul))
                    # group layout (g, m3, u) -> e3nn layout mid_offsets[i_out] + u * d3 + m3
                    u, m3 = torch.arange(mul).view(1, -1), torch.arange(d3).view(-1, 1)
                    perm[(mid_offsets[i_out] + u * d3 + m3).view(-1)] = (out_start + (g * d3 + m3) * mul + u).view(-1)
                block_cg.append(cg.reshape(dim_sh, num_paths * d3 * ir1.dim))
                groups.append(PathGroup(num_paths=num_paths, d3=d3, mul=mul))
                out_start += mul * num_paths * d3
            self.blocks.append(IrrepBlock(input_index=i1, mul=mul, d1=ir1.dim, groups=tuple(groups)))
            # (dim_sh, K * d1): couplings of all this block's paths, grouped by output dimension
            couplings.append(BlockCouplings(torch.cat(block_cg, dim=1).to(torch.get_default_dtype())))
            weight_start += mul * len(paths)
        #: one :class:`BlockCouplings` per entry of :attr:`blocks`
        self.block_couplings = torch.nn.ModuleList(couplings)
        self.weight_numel = weight_start
        weight_order = torch.cat(weight_columns)
        self._weights_in_order = bool((weight_order == torch.arange(self.weight_numel)).all())
        self.register_buffer("_weight_order", weight_order, persistent=False)
        self.register_buffer("_perm", perm, persistent=False)
        self._groups: List[PathGroup] = [group for block in self.blocks for group in block.groups]
        self._register_fused_tables()

    def _register_fused_tables(self) -> None:
        """The paths and nonzero coupling coefficients in the layout of :mod:`nequip.kernels`: inputs
        are the blocks' channel-last features side by side, weights in kernel order, outputs in the
        group layout that :attr:`_perm` takes to e3nn's."""
        dim_sh = self.irreps_sh.dim
        paths: List[List[int]] = []
        cg_index: List[List[int]] = []
        cg_value: List[float] = []
        x_offset = w_offset = out_offset = 0
        for block, couplings in zip(self.blocks, self.block_couplings):
            mul, d1 = block.mul, block.d1
            cg = couplings.cg.to(torch.float64).view(dim_sh, block.num_couplings, d1)
            first_row = 0
            for group in block.groups:
                d3 = group.d3
                for g in range(group.num_paths):
                    path_cg = cg[:, first_row + g * d3 : first_row + (g + 1) * d3, :]  # (dim_sh, d3, d1)
                    begin = len(cg_value)
                    for m2, m3, m1 in path_cg.nonzero().tolist():
                        cg_index.append([m1, m2, m3])
                        cg_value.append(path_cg[m2, m3, m1].item())
                    out_start = out_offset + g * d3 * mul
                    paths.append([mul, d1, d3, x_offset, w_offset + g * mul, out_start, begin, len(cg_value)])
                first_row += group.num_paths * d3
                w_offset += group.weight_size
                out_offset += group.output_size
            x_offset += d1 * mul
        self._fused_num_outputs = out_offset
        self.register_buffer("_fused_paths", torch.tensor(paths, dtype=torch.long).view(-1, 8), persistent=False)
        self.register_buffer("_fused_cg_index", torch.tensor(cg_index, dtype=torch.long).view(-1, 3), persistent=False)
        self.register_buffer(
            "_fused_cg_value", torch.tensor(cg_value, dtype=torch.get_default_dtype()), persistent=False
        )

    def uses_fused_kernel(self, x: torch.Tensor) -> bool:
        """Whether :meth:`forward` on features ``x`` calls the fused kernel of ``nequip-kernels``
        (see the class docstring)."""
        return HAS_FUSED_KERNELS and self.fused_kernel and x.device.type == "cpu"

    @property
    def weight_order(self) -> Optional[torch.Tensor]:
        """Column order in which the kernel reads ``edge_weight``: ``None`` for e3nn's order,
        else the permutation of e3nn's columns (see :class:`~nequip.nn.kernels.protocols.ConvolutionKernel`)."""
        return None if self._weights_in_order else self._weight_order

    @property
    def for_graph_compiler(self) -> bool:
        """Whether the kernel computes in its graph-compiler formulation (see the class docstring)."""
        return self._one_scatter_sum is not None

    def _set_graph_compiler_formulation(self, one_scatter_sum: Optional[bool]) -> Optional[bool]:
        previous, self._one_scatter_sum = self._one_scatter_sum, one_scatter_sum
        return previous

    def forward(
        self,
        x: torch.Tensor,
        edge_attr: torch.Tensor,
        edge_weight: torch.Tensor,
        edge_center: torch.Tensor,
        edge_neighbor: torch.Tensor,
        weights_per_pair: bool = False,
    ) -> torch.Tensor:
        """Convolve neighbor features with edge attributes and sum per center.

        Args:
            x: (N, irreps_in.dim) node features.
            edge_attr: (E, irreps_sh.dim) edge spherical harmonics.
            edge_weight: (E, weight_numel) per-edge path weights, or (E / 2, weight_numel)
                with ``weights_per_pair``.
            edge_center: (E,) int64 center atom i of each edge (receives the message).
            edge_neighbor: (E,) int64 neighbor atom j of each edge (sends its features).
            weights_per_pair: the edges are in pair order (edges e and e + E / 2 are the two
                directions of a pair) and ``edge_weight`` has one row per pair, shared by both
                (the fused kernel reads it so; the other formulations repeat it).

        Returns:
            (N, irreps_mid.dim) summed messages, in the layout of ``irreps_mid``.
        """
        num_nodes = x.shape[0]
        x_parts = x.split(self._in_sizes, dim=1)
        # each block's node features as (N, d1 * u): channel-last, ready for the contraction
        node_features = [
            x_parts[block.input_index]
            if block.d1 == 1
            else self._channel_last(x_parts[block.input_index], block.mul, block.d1)
            for block in self.blocks
        ]
        if not (self._weights_in_order or self.weights_in_kernel_order):
            edge_weight = torch.index_select(edge_weight, 1, self._weight_order)
        if self.uses_fused_kernel(x):
            features = node_features[0] if len(node_features) == 1 else torch.cat(node_features, dim=1)
            out = _fused_tensor_product_scatter(
                features,
                edge_attr,
                edge_weight,
                edge_center,
                edge_neighbor,
                self._fused_paths,
                self._fused_cg_index,
                self._fused_cg_value,
                self._fused_num_outputs,
                weights_per_pair,
            )
            return torch.index_select(out, 1, self._perm)
        if weights_per_pair:
            edge_weight = torch.cat([edge_weight, edge_weight])
        weights = edge_weight.split([group.weight_size for group in self._groups], dim=1)
        if self._one_scatter_sum:
            return self._convolve_in_one_scatter(node_features, edge_attr, weights, edge_center, edge_neighbor)
        x_edges = [self._gather_rows(features, edge_neighbor) for features in node_features]
        if self.for_graph_compiler:  # all edges at once
            messages = self._slice_messages(edge_attr, x_edges, list(weights))
            outs = [_scatter_rows_for_graph_compiler(m, edge_center, num_nodes) for m in messages]
        else:
            outs = self._sums_over_edge_slices(x, x_edges, edge_attr, weights, edge_center)
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)
        return torch.index_select(out, 1, self._perm)

    def _sums_over_edge_slices(
        self,
        x: torch.Tensor,
        x_edges: List[torch.Tensor],
        edge_attr: torch.Tensor,
        weights: Sequence[torch.Tensor],
        edge_center: torch.Tensor,
    ) -> List[torch.Tensor]:
        """The eager formulation's (N, output_size) sums per group, over slices of edges that
        stay in cache (on the CPU, outside torch.compile), each slice optionally recomputed in
        the backward."""
        num_nodes, num_edges = x.shape[0], edge_attr.shape[0]
        outs = [torch.zeros(num_nodes, group.output_size, dtype=x.dtype, device=x.device) for group in self._groups]
        chunk = num_edges
        sliced = not (x.is_cuda or torch.compiler.is_compiling())
        if sliced and 0 < self.edge_chunk_size < num_edges:
            chunk = self.edge_chunk_size
        if chunk < num_edges:
            slices = zip(
                zip(*[t.split(chunk) for t in x_edges]),
                edge_attr.split(chunk),
                zip(*[t.split(chunk) for t in weights]),
                edge_center.split(chunk),
            )
        else:
            slices = [(x_edges, edge_attr, weights, edge_center)]
        # optionally recompute each slice in backward instead of keeping its (n, K, u) messages
        recompute = chunk < num_edges and torch.is_grad_enabled() and self.recompute_in_backward
        for x_slice, sh, w_slice, center in slices:
            if recompute:
                messages = checkpoint(self._slice_messages, sh, list(x_slice), list(w_slice), use_reentrant=False)
            else:
                messages = self._slice_messages(sh, list(x_slice), list(w_slice))
            for out_g, m in zip(outs, messages):
                out_g.index_add_(0, center, m)
        return outs

    def _convolve_in_one_scatter(
        self,
        node_features: List[torch.Tensor],
        edge_attr: torch.Tensor,
        weights: Sequence[torch.Tensor],
        edge_center: torch.Tensor,
        edge_neighbor: torch.Tensor,
    ) -> torch.Tensor:
        """The graph-compiler formulation with ``one_scatter_sum``: all edges at once, one gather
        of every block's neighbor features and one scatter-sum of every group's messages: fewer,
        larger ATen scatter-sums, for inference graphs compiled for several threads. With one
        thread (inductor generates the scatter-sums itself) and in training graphs the per-group
        sums were faster (``docs/benchmarks.md``)."""
        features = node_features[0] if len(node_features) == 1 else torch.cat(node_features, dim=1)
        x_edges = self._gather_rows(features, edge_neighbor).split([f.shape[1] for f in node_features], dim=1)
        messages = self._slice_messages(edge_attr, list(x_edges), list(weights))
        rows = messages[0] if len(messages) == 1 else torch.cat(messages, dim=1)
        out = _scatter_rows_for_graph_compiler(rows, edge_center, features.shape[0])
        return torch.index_select(out, 1, self._perm)

    def _gather_rows(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """``x[index]``; for the graph compiler with the gradient of :class:`_GatherRowsForGraphCompiler`."""
        if self.for_graph_compiler:
            return _GatherRowsForGraphCompiler.apply(x, index)
        return torch.index_select(x, 0, index)

    def _channel_last(self, x: torch.Tensor, mul: int, d1: int) -> torch.Tensor:
        """(N, u * d1) features in e3nn's layout -> (N, d1 * u), written out (see the class docstring)."""
        transposed = x.view(x.shape[0], mul, d1).transpose(1, 2).reshape(x.shape[0] * d1, mul)
        if self.for_graph_compiler:
            transposed = torch.mm(transposed, torch.eye(mul, dtype=x.dtype, device=x.device))
        return transposed.reshape(x.shape[0], d1 * mul)

    def _slice_messages(
        self, sh: torch.Tensor, x_slice: List[torch.Tensor], w_slice: List[torch.Tensor]
    ) -> List[torch.Tensor]:
        """Weighted messages of a slice of n edges, one (n, P * d3 * u) tensor per group."""
        n = sh.shape[0]
        out: List[torch.Tensor] = []
        weights = iter(w_slice)
        for x_b, block, couplings in zip(x_slice, self.blocks, self.block_couplings):
            mul, d1 = block.mul, block.d1
            coupling = torch.mm(sh, couplings.cg).view(n, block.num_couplings, d1)
            if d1 == 1:
                messages = coupling * x_b.view(n, 1, mul)
            elif self.for_graph_compiler:  # (n, K, u) as d1 multiply-adds that inductor fuses
                x_b = x_b.view(n, d1, mul)
                messages = coupling[:, :, :1] * x_b[:, :1]
                for a in range(1, d1):
                    messages = messages + coupling[:, :, a : a + 1] * x_b[:, a : a + 1]
            else:
                messages = torch.bmm(coupling, x_b.view(n, d1, mul))  # (n, K, u)
            for part, group in zip(messages.split(block.coupling_sizes, dim=1), block.groups):
                weighted = part.view(n, group.num_paths, group.d3, mul) * next(weights).view(n, group.num_paths, 1, mul)
                out.append(weighted.view(n, group.output_size))
        return out


@contextlib.contextmanager
def traced_for_graph_compiler(model: torch.nn.Module, one_scatter_sum: bool = False) -> Iterator[None]:
    """While ``model`` is traced (``make_fx``) for a graph compiler: every
    :class:`~nequip.nn.kernels.protocols.GraphCompilerFormulation` module of it in that
    formulation (for :class:`TensorProductScatter`: no CPU edge slices, fused contractions);
    the previous formulations are restored on exit, also on errors.

    Args:
        model: the module to trace.
        one_scatter_sum: whole-buffer gathers and scatter-sums (see
            :meth:`~nequip.nn.kernels.protocols.GraphCompilerFormulation.graph_compiler_formulation`):
            for inference graphs whose CPU kernels run on several threads (the exports); off
            for training graphs, which it made slower.
    """
    with contextlib.ExitStack() as stack:
        for module in model.modules():
            if isinstance(module, GraphCompilerFormulation):
                stack.enter_context(module.graph_compiler_formulation(one_scatter_sum))
        yield
