"""Fused CPU kernels for NequIP's interaction block.

:func:`tensor_product_scatter` computes the convolution of an interaction block (couple each
neighbor's features with the edge's spherical harmonics, weight per channel, sum into the
center) in one pass over the edges of a C++/OpenMP kernel, forward and backward, without
writing a per-edge tensor. :func:`tensor_product_scatter_reference` computes the same in plain
PyTorch operations; it is the kernel's test oracle. The fused kernel's derivatives of every
order are fused kernels too (force training differentiates the forces again).
"""

from .tensor_product_scatter import (
    OPERATOR_LIBRARY,
    PATH_COLUMNS,
    tensor_product_scatter,
    tensor_product_scatter_reference,
)

__all__ = ["OPERATOR_LIBRARY", "PATH_COLUMNS", "tensor_product_scatter", "tensor_product_scatter_reference"]
