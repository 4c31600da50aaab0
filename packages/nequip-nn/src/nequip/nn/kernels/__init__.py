"""Pure tensor kernels of the graph layers: scatter-sum, the edge tensor-product convolution
and the per-type self-connection.

Each fast kernel has a slow, obviously-correct reference beside it; the tests compare them.
"""

from .protocols import ConvolutionKernel, GraphCompilerFormulation
from .scatter import HAS_TORCH_SCATTER, scatter_sum, scatter_sum_reference
from .self_connection import per_type_self_connection
from .tensor_product import (
    HAS_FUSED_KERNELS,
    ReferenceTensorProductScatter,
    TensorProductScatter,
    traced_for_graph_compiler,
    uvu_instructions,
)

__all__ = [
    "ConvolutionKernel",
    "GraphCompilerFormulation",
    "HAS_FUSED_KERNELS",
    "HAS_TORCH_SCATTER",
    "scatter_sum",
    "scatter_sum_reference",
    "per_type_self_connection",
    "TensorProductScatter",
    "ReferenceTensorProductScatter",
    "traced_for_graph_compiler",
    "uvu_instructions",
]
