"""A NequIP layer: interaction block, equivariant gate nonlinearity, optional residual update.

Hidden irreps are those of ``feature_irreps_hidden`` that the convolution can reach from
the input features and edge harmonics. With the gate nonlinearity (upstream default):
scalars go through ``nonlinearity_scalars`` (even: silu, odd: tanh), and every l > 0
irrep is multiplied by an extra scalar gate (``0e`` if reachable, else ``0o``) passed
through ``nonlinearity_gates`` (even: silu, odd: tanh); the convolution therefore outputs
scalars + gates + gated irreps. ``nonlinearity_type="norm"`` instead scales each irrep by
a nonlinearity of its norm. All nonlinearities map 0 to 0.
"""

from typing import Any, Callable, Dict, Mapping, Optional, Union

import torch
from e3nn import o3
from e3nn.nn import Gate, NormActivation

from nequip.data import AtomicDataDict, keys

from .graph_module import GraphModuleMixin
from .interaction import InteractionBlock
from .mlp import ShiftedSoftplus

#: Allowed names for ``nonlinearity_scalars`` / ``nonlinearity_gates`` values.
EQUIVARIANT_ACTIVATIONS: Dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "abs": torch.abs,
    "tanh": torch.tanh,
    "ssp": ShiftedSoftplus(),
    "silu": torch.nn.functional.silu,
}
#: Allowed ``nonlinearity_type`` values: e3nn's ``Gate`` or ``NormActivation``.
NONLINEARITY_TYPES = ("gate", "norm")
#: ``nonlinearity_scalars`` and ``nonlinearity_gates`` when not given.
DEFAULT_ACTIVATIONS: Dict[str, str] = {"e": "silu", "o": "tanh"}


def tp_path_exists(irreps_in1, irreps_in2, ir_out) -> bool:
    """Whether some irrep of ``irreps_in1`` times some irrep of ``irreps_in2`` contains ``ir_out``."""
    ir_out = o3.Irrep(ir_out)
    return any(ir_out in ir1 * ir2 for _, ir1 in o3.Irreps(irreps_in1) for _, ir2 in o3.Irreps(irreps_in2))


def check_nonlinearity_type(value: Any, argument: str = "nonlinearity_type") -> str:
    """``value`` if it is in :data:`NONLINEARITY_TYPES`, else ``ValueError`` naming ``argument``."""
    if value not in NONLINEARITY_TYPES:
        raise ValueError(f"{argument}={value!r} is not allowed; allowed are {list(NONLINEARITY_TYPES)}")
    return value


def check_activations(spec: Optional[Mapping[str, str]], argument: str) -> Dict[str, str]:
    """``{"e": name, "o": name}`` (even/odd scalars) with names from :data:`EQUIVARIANT_ACTIVATIONS`;
    ``None`` gives :data:`DEFAULT_ACTIVATIONS`.

    Raises:
        ValueError: for other keys or names, naming ``argument`` and listing the allowed values.
    """
    spec = dict(DEFAULT_ACTIVATIONS if spec is None else spec)
    if set(spec) != {"e", "o"}:
        raise ValueError(f"{argument} must have exactly the keys 'e' and 'o', got {sorted(spec)}")
    for parity_name in ("e", "o"):
        if spec[parity_name] not in EQUIVARIANT_ACTIVATIONS:
            raise ValueError(
                f"{argument}[{parity_name!r}]={spec[parity_name]!r} is not allowed; "
                f"allowed are {list(EQUIVARIANT_ACTIVATIONS)}"
            )
    return spec


def _activations(spec: Optional[Mapping[str, str]], argument: str) -> Dict[int, Callable]:
    """The activation functions of :func:`check_activations`' names, by parity (1 even, -1 odd)."""
    spec = check_activations(spec, argument)
    return {1: EQUIVARIANT_ACTIVATIONS[spec["e"]], -1: EQUIVARIANT_ACTIVATIONS[spec["o"]]}


class ConvNetLayer(GraphModuleMixin, torch.nn.Module):
    """Interaction block + equivariant nonlinearity (+ residual), see module docstring.

    Args:
        irreps_in: available fields (see :class:`~nequip.nn.interaction.InteractionBlock`).
        feature_irreps_hidden: requested output feature irreps.
        convolution: the convolution's graph-module class, built as
            ``convolution(irreps_in=..., irreps_out=..., **convolution_kwargs)`` (default
            :class:`~nequip.nn.interaction.InteractionBlock`).
        convolution_kwargs: its other arguments, e.g. ``{"radial_mlp_width": 16,
            "avg_num_neighbors": 4.0, "use_sc": False}`` for an ``InteractionBlock``
            (``avg_num_neighbors`` is required there).
        resnet: add the input features to the output when their irreps agree.
        nonlinearity_type: ``"gate"`` (default) or ``"norm"``.
        nonlinearity_scalars: ``{"e": name, "o": name}`` for even/odd scalars (default
            silu/tanh), names from :data:`EQUIVARIANT_ACTIVATIONS`.
        nonlinearity_gates: same for the gates (default silu/tanh).
    """

    def __init__(
        self,
        irreps_in: Mapping[str, Any],
        feature_irreps_hidden: Union[str, o3.Irreps],
        convolution: Callable[..., GraphModuleMixin] = InteractionBlock,
        convolution_kwargs: Optional[Mapping[str, Any]] = None,
        resnet: bool = False,
        nonlinearity_type: str = "gate",
        nonlinearity_scalars: Optional[Mapping[str, str]] = None,
        nonlinearity_gates: Optional[Mapping[str, str]] = None,
    ):
        super().__init__()
        check_nonlinearity_type(nonlinearity_type)
        act_scalars = _activations(nonlinearity_scalars, "nonlinearity_scalars")
        act_gates = _activations(nonlinearity_gates, "nonlinearity_gates")
        self._init_irreps(irreps_in=irreps_in, required_irreps_in=[keys.NODE_FEATURES_KEY, keys.EDGE_ATTRS_KEY])
        hidden = o3.Irreps(feature_irreps_hidden)
        feature_in = self.irreps_in[keys.NODE_FEATURES_KEY]
        edge_sh = self.irreps_in[keys.EDGE_ATTRS_KEY]
        scalars = o3.Irreps([(m, ir) for m, ir in hidden if ir.l == 0 and tp_path_exists(feature_in, edge_sh, ir)])
        gated = o3.Irreps([(m, ir) for m, ir in hidden if ir.l > 0 and tp_path_exists(feature_in, edge_sh, ir)])
        layer_out = (scalars + gated).simplify()
        if layer_out.dim == 0:
            raise ValueError(
                f"feature_irreps_hidden={hidden} has no irrep reachable from features {feature_in} "
                f"and edge harmonics {edge_sh}"
            )
        if nonlinearity_type == "gate":
            gate_ir = "0e" if tp_path_exists(feature_in, edge_sh, "0e") else "0o"
            gates = o3.Irreps([(m, gate_ir) for m, _ in gated])
            self.equivariant_nonlin = Gate(
                irreps_scalars=scalars,
                act_scalars=[act_scalars[ir.p] for _, ir in scalars],
                irreps_gates=gates,
                act_gates=[act_gates[ir.p] for _, ir in gates],
                irreps_gated=gated,
            )
            conv_out = self.equivariant_nonlin.irreps_in.simplify()
        else:
            conv_out = layer_out
            self.equivariant_nonlin = NormActivation(
                irreps_in=conv_out, scalar_nonlinearity=act_scalars[1], normalize=True, epsilon=1e-8, bias=False
            )
        self.resnet = bool(resnet) and layer_out == feature_in
        self.conv = convolution(irreps_in=self.irreps_in, irreps_out=conv_out, **dict(convolution_kwargs or {}))
        self.irreps_out.update(self.conv.irreps_out)
        self.irreps_out[keys.NODE_FEATURES_KEY] = self.equivariant_nonlin.irreps_out

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        old = data[keys.NODE_FEATURES_KEY]
        data = self.conv(data)
        out = self.equivariant_nonlin(data[keys.NODE_FEATURES_KEY])
        data[keys.NODE_FEATURES_KEY] = old + out if self.resnet else out
        return data
