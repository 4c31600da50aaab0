"""The fused tensor-product convolution and its pure-PyTorch reference (one contract).

Contract, for ``E`` edges ``(center[e], neighbor[e])`` among ``N`` nodes and ``P`` paths::

    out[center[e], out_offset + m3 * mul + u] += w[e, w_offset + u]
        * sum_{m1} t_e[m3, m1] * x[neighbor[e], x_offset + m1 * mul + u]
    t_e[m3, m1] = sum over the path's coefficients (m1, m2, m3, value) of value * sh[e, m2]

for every path (a row of ``paths``, columns :data:`PATH_COLUMNS`): node features ``x`` (N, F_in)
hold each input irrep channel-last (``[m1][u]``), the output (N, num_outputs) each path's
``d3 * mul`` values channel-last at ``out_offset``; ``cg_index`` (C, 3) lists the nonzero
coupling coefficients as rows ``(m1, m2, m3)`` with values ``cg_value`` (C,), a path owning the
rows ``cg_begin`` to ``cg_end``. Paths that write the same outputs are summed. With
``pair_weights``, ``w`` has one row per pair of edges in pair order (E / 2 rows; edges ``e`` and
``e + E / 2`` are the two directions of a pair and share row ``e mod E / 2``), as a radial
network evaluated once per pair gives them; the weights' gradient then sums both directions.
"""

import importlib.util

import torch

_REBUILD = (
    "rebuild it against the installed torch: `uv sync --reinstall-package nequip-kernels` in the workspace, "
    "`pip install --no-build-isolation --force-reinstall ./packages/nequip-kernels` elsewhere"
)


def _operator_library() -> str:
    spec = importlib.util.find_spec("nequip.kernels._ops")
    if spec is None or spec.origin is None:
        raise ImportError(f"nequip-kernels: its operator library (nequip/kernels/_ops*.so) was not built; {_REBUILD}")
    try:
        torch.ops.load_library(spec.origin)
    except OSError as error:  # e.g. built against another torch: undefined symbols
        raise ImportError(f"nequip-kernels: {spec.origin} does not load ({error}); {_REBUILD}") from error
    return spec.origin


#: The shared library that registers the operators ``torch.ops.nequip_kernels.*`` (C++, no Python).
OPERATOR_LIBRARY: str = _operator_library()

#: Columns of a row of ``paths``: channels, input and output irrep dimensions, offsets into
#: ``x``, ``w`` and the output, and the path's rows of ``cg_index``.
PATH_COLUMNS = ("mul", "d1", "d3", "x_offset", "w_offset", "out_offset", "cg_begin", "cg_end")


def tensor_product_scatter_reference(
    x: torch.Tensor,
    sh: torch.Tensor,
    w: torch.Tensor,
    center: torch.Tensor,
    neighbor: torch.Tensor,
    paths: torch.Tensor,
    cg_index: torch.Tensor,
    cg_value: torch.Tensor,
    num_outputs: int,
    pair_weights: bool = False,
) -> torch.Tensor:
    """The contract of the module docstring in plain PyTorch operations (differentiable to any order).

    Args:
        x: (N, F_in) node features, each input irrep channel-last.
        sh: (E, S) edge spherical harmonics.
        w: (E, W) per-edge path weights, or (E / 2, W) per pair with ``pair_weights``.
        center: (E,) int64 node receiving each edge's message.
        neighbor: (E,) int64 node sending its features.
        paths: (P, 8) int64, columns :data:`PATH_COLUMNS`.
        cg_index: (C, 3) int64 rows ``(m1, m2, m3)``.
        cg_value: (C,) coefficients, the dtype of ``x``.
        num_outputs: F_out, columns of the output.
        pair_weights: ``w`` has one row per pair of edges (see the module docstring).

    Returns:
        (N, num_outputs) summed messages.
    """
    num_edges = sh.shape[0]
    if pair_weights:
        w = torch.cat([w, w])
    out = x.new_zeros(x.shape[0], num_outputs)
    for mul, d1, d3, x_offset, w_offset, out_offset, begin, end in paths.tolist():
        m1, m2, m3 = cg_index[begin:end].unbind(1)
        t = sh.new_zeros(num_edges, d3 * d1).index_add(1, m3 * d1 + m1, sh[:, m2] * cg_value[begin:end])
        x_j = x[neighbor, x_offset : x_offset + d1 * mul].view(num_edges, d1, mul)
        messages = torch.bmm(t.view(num_edges, d3, d1), x_j) * w[:, w_offset : w_offset + mul].unsqueeze(1)
        out[:, out_offset : out_offset + d3 * mul].index_add_(0, center, messages.reshape(num_edges, d3 * mul))
    return out


@torch.library.register_fake("nequip_kernels::tensor_product_scatter")
def _forward_shape(x, sh, w, center, neighbor, paths, cg_index, cg_value, num_outputs, pair_weights):
    return x.new_empty(x.shape[0], num_outputs)


@torch.library.register_fake("nequip_kernels::tensor_product_scatter_backward")
def _backward_shapes(
    grad_out, x, sh, w, center, neighbor, paths, cg_index, cg_value, need_x, need_sh, need_w, pair_weights
):
    return tuple(t.new_empty(t.shape if need else (0,)) for t, need in ((x, need_x), (sh, need_sh), (w, need_w)))


_FORWARD = torch.ops.nequip_kernels.tensor_product_scatter
_BACKWARD = torch.ops.nequip_kernels.tensor_product_scatter_backward


def _save_inputs(ctx, inputs, output):
    ctx.save_for_backward(*inputs[:8])
    ctx.pair_weights = inputs[9]


def _gradients(ctx, grad_out):
    x, sh, w, center, neighbor, paths, cg_index, cg_value = ctx.saved_tensors
    needs = ctx.needs_input_grad[:3]
    computed = _BACKWARD(grad_out, x, sh, w, center, neighbor, paths, cg_index, cg_value, *needs, ctx.pair_weights)
    grads = tuple(g if need else None for g, need in zip(computed, needs))
    return (*grads, None, None, None, None, None, None, None)


def _save_backward_inputs(ctx, inputs, output):
    ctx.save_for_backward(*inputs[:9])
    ctx.computed, ctx.pair_weights = inputs[9:12], inputs[12]


def _second_derivatives(ctx, grad_grad_x, grad_grad_sh, grad_grad_w):
    """The gradients of the backward operator, in fused operators only.

    The convolution ``F(x, sh, w)`` is linear in each of ``x``, ``sh`` and ``w``, and its backward
    ``B = (B_x, B_sh, B_w)`` gives the gradients of ``<g, F>``. Given cotangents ``(a_x, a_sh, a_w)``
    of the gradients ``B`` computed, the gradients of ``<a_x, B_x> + <a_sh, B_sh> + <a_w, B_w>`` are

    - for ``g``: ``F(a_x, sh, w) + F(x, a_sh, w) + F(x, sh, a_w)``;
    - for ``x``: ``B_x(g; x, a_sh, w) + B_x(g; x, sh, a_w)``;
    - for ``sh``: ``B_sh(g; a_x, sh, w) + B_sh(g; x, sh, a_w)``;
    - for ``w``: ``B_w(g; a_x, sh, w) + B_w(g; x, a_sh, w)``;

    that is three forward and three backward calls, each backward with two of its three outputs.
    All of them are these same operators, so derivatives of every order stay fused.
    """
    grad_out, x, sh, w, center, neighbor, paths, cg_index, cg_value = ctx.saved_tensors
    tables = (center, neighbor, paths, cg_index, cg_value)
    cotangents = [
        a if computed and a is not None else None
        for a, computed in zip((grad_grad_x, grad_grad_sh, grad_grad_w), ctx.computed)
    ]
    want_out, want_x, want_sh, want_w = ctx.needs_input_grad[:4]
    grads = [None, None, None, None]  # grad_out, x, sh, w

    def add(i, g):
        grads[i] = g if grads[i] is None else grads[i] + g

    for k, a in enumerate(cotangents):
        if a is None:
            continue
        # the inputs with the k-th one replaced by its cotangent
        replaced = [a if i == k else t for i, t in enumerate((x, sh, w))]
        if want_out:
            add(0, _FORWARD(*replaced, *tables, grad_out.shape[1], ctx.pair_weights))
        # the gradients of the two other inputs (that of the k-th does not depend on it)
        needs = [want and i != k for i, want in enumerate((want_x, want_sh, want_w))]
        if any(needs):
            computed = _BACKWARD(grad_out, *replaced, *tables, *needs, ctx.pair_weights)
            for i, need in enumerate(needs):
                if need:
                    add(i + 1, computed[i])
    return (*grads, None, None, None, None, None, None, None, None, None)


torch.library.register_autograd(
    "nequip_kernels::tensor_product_scatter_backward", _second_derivatives, setup_context=_save_backward_inputs
)

torch.library.register_autograd("nequip_kernels::tensor_product_scatter", _gradients, setup_context=_save_inputs)


def tensor_product_scatter(
    x: torch.Tensor,
    sh: torch.Tensor,
    w: torch.Tensor,
    center: torch.Tensor,
    neighbor: torch.Tensor,
    paths: torch.Tensor,
    cg_index: torch.Tensor,
    cg_value: torch.Tensor,
    num_outputs: int,
    pair_weights: bool = False,
) -> torch.Tensor:
    """The contract of the module docstring, fused: one C++/OpenMP pass over the edges (CPU tensors).

    The operator ``torch.ops.nequip_kernels.tensor_product_scatter`` (registered from
    :data:`OPERATOR_LIBRARY`, with its shapes for tracing and its gradient formula), so that
    ``torch.compile``, ``torch.export`` and AOTInductor keep it as one call.

    Same arguments and result as :func:`tensor_product_scatter_reference`, to rounding (the
    sums run in another order). Differentiable with respect to ``x``, ``sh`` and ``w`` to any
    order, in fused operators only: the first derivatives are the operator
    ``tensor_product_scatter_backward``, and its derivatives (force training differentiates
    the forces again) are calls of these two operators (see ``_second_derivatives``).

    Raises:
        RuntimeError: tensors not on the CPU, of different floating dtypes, of inconsistent
            shapes, or edge indices outside ``[0, N)`` (the message names which).
    """
    return _FORWARD(x, sh, w, center, neighbor, paths, cg_index, cg_value, num_outputs, pair_weights)
