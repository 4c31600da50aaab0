"""Pure tensor kernels of the graph layers: scatter-sum and the edge tensor-product convolution.

Each fast kernel has a slow, obviously-correct reference beside it; the tests compare them.
"""

from .scatter import HAS_TORCH_SCATTER, scatter_sum, scatter_sum_reference
from .tensor_product import (
    ReferenceTensorProductScatter,
    TensorProductScatter,
    traced_for_graph_compiler,
    uvu_instructions,
)

__all__ = [
    "HAS_TORCH_SCATTER",
    "scatter_sum",
    "scatter_sum_reference",
    "TensorProductScatter",
    "ReferenceTensorProductScatter",
    "traced_for_graph_compiler",
    "uvu_instructions",
]
