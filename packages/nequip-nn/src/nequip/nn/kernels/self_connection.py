r"""Self-connection with node attributes that depend only on the atom type.

The interaction block's self-connection is e3nn's ``FullyConnectedTensorProduct`` of the
node features ``x`` with scalar node attributes ``a`` (``D x 0e``). Each path ``l -> l``
of it computes, for every atom and output channel w,

.. math::

    s_{w,m} = c \sum_{u,v} W_{u v w}\, x_{u,m}\, a_v, \qquad c = \frac{\text{path weight}}{\sqrt{2l + 1}}

(the Wigner-3j symbol of ``l x 0 -> l`` is the identity over ``sqrt(2l + 1)``): ``D``
multiply-adds per weight ``(u, w)``. When the attributes are a per-type table,
``a_i = E[t_i]`` (:class:`~nequip.nn.node_embedding.NodeTypeEmbed`), the weights
contracted with each type's row, ``W^t_{uw} = c \sum_v W_{uvw} E_{tv}``, are computed once
per call, and the self-connection of all atoms is one matmul of the features spread over
their type's block, ``[onehot(t_i) \otimes x_i]`` (``T u`` columns), by ``W^t``
(``T u`` rows): ``T`` instead of ``D`` multiply-adds per weight, ``T`` the number of types.
:func:`per_type_self_connection` does that; :class:`e3nn.o3.FullyConnectedTensorProduct`
itself is the reference, and the numbers agree to rounding.
"""

import math

import torch
from e3nn import o3


def per_type_self_connection(
    tp: o3.TensorProduct, x: torch.Tensor, node_attrs: torch.Tensor, atom_types: torch.Tensor, num_types: int
) -> torch.Tensor:
    """``tp(x, node_attrs)`` for node attributes that are a function of the atom type only.

    Args:
        tp: e3nn tensor product with internal weights, ``uvw`` paths and scalar
            ``irreps_in2`` (a ``FullyConnectedTensorProduct`` with scalar attributes).
        x: (N, tp.irreps_in1.dim) node features.
        node_attrs: (N, tp.irreps_in2.dim) node attributes; atoms of the same type must
            have the same attributes (only the first atom of each type is read).
        atom_types: (N,) int64 type index of each atom, in ``[0, num_types)``.
        num_types: number of atom types T.

    Returns:
        (N, tp.irreps_out.dim), equal to ``tp(x, node_attrs)`` to rounding.
    """
    num_nodes = x.shape[0]
    one_hot = (atom_types.view(-1, 1) == torch.arange(num_types, device=x.device)).to(x.dtype)
    # attributes of each type: those of its first atom (argmax finds the first maximum), so the
    # gradient of every row reaches the type's embedding exactly once; a type without atoms
    # (also when there are none) finds the appended row of ones and reads the appended zeros
    first = torch.cat([one_hot, one_hot.new_ones(1, num_types)]).argmax(dim=0)
    type_attrs = torch.index_select(torch.cat([node_attrs, node_attrs.new_zeros(1, node_attrs.shape[1])]), 0, first)
    x_parts = x.split([mul_ir.dim for mul_ir in tp.irreps_in1], dim=1)
    attr_parts = type_attrs.split([mul_ir.dim for mul_ir in tp.irreps_in2], dim=1)
    outs = [None] * len(tp.irreps_out)
    for _, ins, weight in tp.weight_views(yield_instruction=True):  # weight: (u, v, w)
        mul_in, mul_out, d = weight.shape[0], weight.shape[2], tp.irreps_in1[ins.i_in1].ir.dim
        type_weight = torch.einsum("uvw,tv->tuw", weight, attr_parts[ins.i_in2]) * (ins.path_weight / math.sqrt(d))
        # (N d, T u) @ (T u, w), then back to e3nn's (w, m) layout (views when d = 1)
        spread = one_hot.view(num_nodes, num_types, 1, 1) * x_parts[ins.i_in1].view(num_nodes, 1, mul_in, d)
        spread = (
            spread.view(num_nodes, num_types * mul_in, d).transpose(1, 2).reshape(num_nodes * d, num_types * mul_in)
        )
        out = torch.mm(spread, type_weight.view(num_types * mul_in, mul_out))
        out = out.view(num_nodes, d, mul_out).transpose(1, 2).reshape(num_nodes, mul_out * d)
        outs[ins.i_out] = out if outs[ins.i_out] is None else outs[ins.i_out] + out
    return torch.cat(
        [x.new_zeros(num_nodes, mul_ir.dim) if out is None else out for out, mul_ir in zip(outs, tp.irreps_out)],
        dim=1,
    )


def check_per_type_self_connection(tp: o3.TensorProduct) -> None:
    """Raise ``ValueError`` unless :func:`per_type_self_connection` computes ``tp``."""
    problems = []
    if any(ir.l != 0 for _, ir in tp.irreps_in2):
        problems.append(f"its second input {tp.irreps_in2} is not all scalars")
    if not tp.internal_weights:
        problems.append("its weights are not internal")
    modes = sorted({ins.connection_mode for ins in tp.instructions if ins.connection_mode != "uvw"})
    if modes or not all(ins.has_weight for ins in tp.instructions):
        problems.append(f"it has paths other than weighted 'uvw' ({modes or 'unweighted'})")
    if problems:
        raise ValueError(f"a per-type self-connection needs a fully connected tensor product; {'; '.join(problems)}")
