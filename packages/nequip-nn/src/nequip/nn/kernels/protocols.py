"""What a layer may rely on from a kernel: the convolution kernel protocol and the
graph-compiler formulation switch.

:class:`ConvolutionKernel` is what :class:`~nequip.nn.interaction.InteractionBlock` needs
from its ``tp_scatter`` class: how it is built, the layout of its per-edge weights and its
call signature. Both kernels of :mod:`nequip.nn.kernels.tensor_product` satisfy it, and an
accelerated kernel of an extension package can be passed as ``tp_scatter`` if it does too.

:class:`GraphCompilerFormulation` is the base class of modules that compute differently
while a model is traced for a fusing graph compiler
(:func:`~nequip.nn.kernels.traced_for_graph_compiler` enters
:meth:`~GraphCompilerFormulation.graph_compiler_formulation` of each of them).
"""

import abc
import contextlib
from typing import Iterator, Optional, Protocol

import torch
from e3nn import o3


class ConvolutionKernel(Protocol):
    """A convolution kernel class: the tensor product of neighbor features with the edge
    spherical harmonics, weighted per edge and path, summed per center atom.

    Built as ``kernel(irreps_in, irreps_sh, irreps_out, weights_in_kernel_order=...)``.

    Attributes:
        irreps_mid: (property) irreps of the output, one entry per path.
        weight_numel: number of per-edge weights (columns of ``edge_weight``).
        weight_order: ``None`` when the kernel reads the columns of ``edge_weight`` in
            e3nn's order (path-major, then channel); else the (weight_numel,) int64
            permutation of e3nn's columns it reads them in. A kernel built with
            ``weights_in_kernel_order=True`` expects ``edge_weight`` already permuted by it
            (``edge_weight[:, k]`` = e3nn's column ``weight_order[k]``), e.g. by a radial
            MLP whose last layer was permuted once
            (:class:`~nequip.nn.mlp.ScalarMLPFunction` ``output_order``).
    """

    irreps_mid: o3.Irreps
    weight_numel: int

    def __init__(self, irreps_in, irreps_sh, irreps_out, *, weights_in_kernel_order: bool = False) -> None: ...

    @property
    def weight_order(self) -> Optional[torch.Tensor]: ...

    def __call__(
        self,
        x: torch.Tensor,
        edge_attr: torch.Tensor,
        edge_weight: torch.Tensor,
        edge_center: torch.Tensor,
        edge_neighbor: torch.Tensor,
        weights_per_pair: bool = False,
    ) -> torch.Tensor:
        """(N, irreps_in.dim) node features, (E, irreps_sh.dim) edge harmonics, (E, weight_numel)
        weights, (E,) center and (E,) neighbor atom of each edge -> (N, irreps_mid.dim) sums.
        With ``weights_per_pair`` the edges are in pair order (edges e and e + E / 2 are the two
        directions of a pair) and the weights have one row per pair, (E / 2, weight_numel)."""
        ...


class GraphCompilerFormulation(abc.ABC):
    """Base class of modules with a second formulation for a fusing graph compiler (inductor).

    The formulation must give the same numbers up to rounding, and must not depend on
    the sizes of the traced inputs (the traced graph is reused for any number of atoms
    and edges).
    """

    @abc.abstractmethod
    def _set_graph_compiler_formulation(self, one_scatter_sum: Optional[bool]) -> Optional[bool]:
        """Switch the formulation: ``None`` for the eager one, else the graph-compiler one
        (with ``one_scatter_sum`` as in :meth:`graph_compiler_formulation`); return the previous
        state (to restore it)."""

    @contextlib.contextmanager
    def graph_compiler_formulation(self, one_scatter_sum: bool = False) -> Iterator[None]:
        """The graph-compiler formulation inside, the previous one restored after (also on errors).

        Args:
            one_scatter_sum: gather and scatter-sum whole buffers, one of each per call, where the
                formulation would otherwise sum in parts (for a graph whose scatter-sums ATen
                computes in parallel: inference graphs compiled for several CPU threads).
        """
        previous = self._set_graph_compiler_formulation(bool(one_scatter_sum))
        try:
            yield
        finally:
            self._set_graph_compiler_formulation(previous)
