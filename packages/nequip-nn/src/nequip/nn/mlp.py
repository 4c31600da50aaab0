"""Scalar multilayer perceptrons (radial networks, readouts) and the table of nonlinearities.

Weights are drawn from U(-sqrt(3), sqrt(3)) (unit variance) and scaled in ``forward`` by
``gain / sqrt(fan_in)`` (``gain = sqrt(2)`` after a nonlinearity, else 1), so activations
keep unit variance, as in upstream NequIP.
"""

import math
from typing import Any, Callable, Dict, Mapping, Optional, Sequence

import torch
from e3nn import o3

from nequip.data import AtomicDataDict, keys

from .graph_module import GraphModuleMixin


class ShiftedSoftplus(torch.nn.Module):
    """softplus(x) - log(2): zero at zero."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.softplus(x) - math.log(2.0)


#: Allowed ``nonlinearity`` names -> module constructors. ``None``, ``"None"`` and
#: ``"null"`` mean no nonlinearity (a deep linear network).
NONLINEARITIES: Dict[Optional[str], Callable[[], torch.nn.Module]] = {
    None: torch.nn.Identity,
    "None": torch.nn.Identity,
    "null": torch.nn.Identity,
    "silu": torch.nn.SiLU,
    "mish": torch.nn.Mish,
    "gelu": torch.nn.GELU,
    "ssp": ShiftedSoftplus,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
    "softplus": torch.nn.Softplus,
}


def check_nonlinearity(name: Any, argument: str = "nonlinearity") -> Optional[str]:
    """``name`` if it is a key of :data:`NONLINEARITIES`.

    Raises:
        ValueError: for anything else, naming ``argument`` and listing the allowed names.
    """
    if not isinstance(name, (str, type(None))) or name not in NONLINEARITIES:
        raise ValueError(f"{argument}={name!r} is not allowed; allowed are {list(NONLINEARITIES)}")
    return name


def nonlinearity_module(name: Optional[str], argument: str = "nonlinearity") -> torch.nn.Module:
    """Instantiate the nonlinearity called ``name`` from :data:`NONLINEARITIES`.

    Raises:
        ValueError: for a name not in the table, listing the allowed names.
    """
    return NONLINEARITIES[check_nonlinearity(name, argument)]()


#: Allowed ``init_mode`` values: unit-variance uniform or normal weights.
INIT_MODES = ("uniform", "normal")
#: Allowed ``parametrization`` values -> the ``torch.nn.utils.parametrizations`` function
#: applied to each layer's weight (``None``: plain weights).
PARAMETRIZATIONS: Dict[Optional[str], Optional[Callable[[torch.nn.Module], torch.nn.Module]]] = {
    None: None,
    "None": None,
    "null": None,
    "weight_norm": lambda layer: torch.nn.utils.parametrizations.weight_norm(layer, "weight", dim=1),
    "spectral_norm": lambda layer: torch.nn.utils.parametrizations.spectral_norm(layer, "weight", dim=1),
    "orthogonal": lambda layer: torch.nn.utils.parametrizations.orthogonal(layer, "weight"),
}


def _check_choice(value: Any, allowed: Sequence[Any], argument: str) -> Any:
    if not isinstance(value, (str, type(None))) or value not in allowed:
        raise ValueError(f"{argument}={value!r} is not allowed; allowed are {list(allowed)}")
    return value


def _permutation(order: Any, size: int, argument: str) -> torch.Tensor:
    """``order`` as an int64 permutation of ``range(size)``, else ``ValueError`` naming ``argument``."""
    order = torch.as_tensor(order, dtype=torch.long).reshape(-1)
    if not torch.equal(torch.sort(order).values, torch.arange(size)):
        raise ValueError(f"{argument} must be a permutation of range({size}), got {order.tolist()}")
    return order


class ScalarLinear(torch.nn.Module):
    """``y = x @ (alpha * W) (+ b)`` with W (in, out) of unit-variance entries.

    Args:
        in_features: input width.
        out_features: output width.
        alpha: fixed scale of the weights.
        bias: add a learned bias (zero-initialized).
        init_mode: ``"uniform"`` (U(-sqrt(3), sqrt(3)), default) or ``"normal"`` (N(0, 1)) weights.
        output_order: optional permutation of the outputs: output ``k`` is column
            ``output_order[k]`` of ``W`` (the weight keeps its layout; permuting the (in, out)
            weight is far cheaper than permuting every row of the output).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        alpha: float = 1.0,
        bias: bool = False,
        init_mode: str = "uniform",
        output_order: Optional[torch.Tensor] = None,
    ):
        super().__init__()
        _check_choice(init_mode, INIT_MODES, "init_mode")
        self.in_features, self.out_features, self.alpha = in_features, out_features, float(alpha)
        weight = torch.empty(in_features, out_features)
        if init_mode == "uniform":
            weight.uniform_(-math.sqrt(3), math.sqrt(3))
        else:
            weight.normal_(0.0, 1.0)
        self.weight = torch.nn.Parameter(weight)
        self.bias = torch.nn.Parameter(torch.zeros(out_features)) if bias else None
        if output_order is not None:
            output_order = _permutation(output_order, out_features, "output_order")
        self.register_buffer("output_order", output_order, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.alpha
        bias = self.bias
        if self.output_order is not None:
            # permuting the (in, out) weight is far cheaper than permuting the (rows, out) output
            weight = torch.index_select(weight, 1, self.output_order)
            bias = None if bias is None else torch.index_select(bias, 0, self.output_order)
        if bias is None:
            return torch.mm(x, weight)
        return torch.addmm(bias, x, weight)

    def extra_repr(self) -> str:
        return f"in={self.in_features}, out={self.out_features}, alpha={self.alpha:.4f}, bias={self.bias is not None}"


class ScalarMLPFunction(torch.nn.Module):
    """An MLP on plain tensors: ``input_dim -> [hidden_layers_width] * depth -> output_dim``.

    Args:
        input_dim: input width.
        output_dim: output width.
        hidden_layers_depth: number of hidden layers (0: a single linear layer).
        hidden_layers_width: width of the hidden layers (required if depth > 0).
        nonlinearity: a name in :data:`NONLINEARITIES` (default ``"silu"``), applied after
            every layer but the last.
        bias: learned biases (default ``False``; keep it off on the energy path).
        forward_weight_init: normalize by fan-in (keeps forward activations at unit
            variance, default) instead of fan-out.
        init_mode: initial weights, ``"uniform"`` (default) or ``"normal"``, both unit variance.
        parametrization: a key of :data:`PARAMETRIZATIONS` (default ``None``: plain weights).
        output_order: optional permutation of the outputs, ``output[:, k]`` = former output
            ``output_order[k]``, applied to the last layer's weights (see :class:`ScalarLinear`):
            e.g. a radial MLP producing the weights in a kernel's ``weight_order``.

    Attributes:
        dims: the widths, ``[input_dim, hidden..., output_dim]``.
        num_layers: number of linear layers.
        is_nonlinear: whether a nonlinearity sits between layers.

    Example:
        >>> mlp = ScalarMLPFunction(4, 1, hidden_layers_depth=1, hidden_layers_width=8)
        >>> mlp(torch.randn(3, 4)).shape
        torch.Size([3, 1])
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        hidden_layers_depth: int = 0,
        hidden_layers_width: Optional[int] = None,
        nonlinearity: Optional[str] = "silu",
        bias: bool = False,
        forward_weight_init: bool = True,
        init_mode: str = "uniform",
        parametrization: Optional[str] = None,
        output_order: Optional[torch.Tensor] = None,
    ):
        super().__init__()
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not (isinstance(value, int) and value > 0):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not (isinstance(hidden_layers_depth, int) and hidden_layers_depth >= 0):
            raise ValueError(f"hidden_layers_depth must be an integer >= 0, got {hidden_layers_depth!r}")
        if hidden_layers_depth > 0 and not (isinstance(hidden_layers_width, int) and hidden_layers_width > 0):
            raise ValueError(
                f"hidden_layers_width must be a positive integer when hidden_layers_depth={hidden_layers_depth}, "
                f"got {hidden_layers_width!r}"
            )
        check_nonlinearity(nonlinearity)
        _check_choice(init_mode, INIT_MODES, "init_mode")
        parametrize = PARAMETRIZATIONS[_check_choice(parametrization, list(PARAMETRIZATIONS), "parametrization")]
        self.dims = [input_dim] + [hidden_layers_width] * hidden_layers_depth + [output_dim]
        has_act = NONLINEARITIES[nonlinearity] is not torch.nn.Identity
        num_layers = len(self.dims) - 1
        self.num_layers = num_layers
        self.is_nonlinear = has_act and num_layers > 1
        self.bias = bool(bias)
        layers = []
        for layer, (h_in, h_out) in enumerate(zip(self.dims, self.dims[1:])):
            if forward_weight_init:
                gain = math.sqrt(2) if (has_act and layer > 0) else 1.0
                fan = h_in
            else:
                gain = math.sqrt(2) if (has_act and layer < num_layers - 1) else 1.0
                fan = h_out
            last = layer == num_layers - 1
            linear = ScalarLinear(
                h_in,
                h_out,
                alpha=gain / math.sqrt(fan),
                bias=bias,
                init_mode=init_mode,
                output_order=output_order if last else None,
            )
            layers.append(linear if parametrize is None else parametrize(linear))
            if layer < num_layers - 1 and has_act:
                layers.append(nonlinearity_module(nonlinearity))
        self.mlp = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., input_dim) -> (..., output_dim)."""
        return self.mlp(x)


class ScalarMLP(GraphModuleMixin, torch.nn.Module):
    """Apply a :class:`ScalarMLPFunction` to a field of even scalars (e.g. the per-atom readout).

    Args:
        output_dim: output width; the output field gets irreps ``{output_dim}x0e``.
        hidden_layers_depth: see :class:`ScalarMLPFunction`, as for ``hidden_layers_width``,
            ``nonlinearity``, ``bias``, ``forward_weight_init``, ``init_mode`` and
            ``parametrization``.
        field: input field, ``node_features`` by default; must be ``Nx0e``.
        out_field: output field (default: ``field``).
        irreps_in: fields available before this module.
    """

    def __init__(
        self,
        output_dim: int,
        hidden_layers_depth: int = 0,
        hidden_layers_width: Optional[int] = None,
        nonlinearity: Optional[str] = "silu",
        bias: bool = False,
        forward_weight_init: bool = True,
        init_mode: str = "uniform",
        parametrization: Optional[str] = None,
        field: str = keys.NODE_FEATURES_KEY,
        out_field: Optional[str] = None,
        irreps_in: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__()
        self.field = field
        self.out_field = field if out_field is None else out_field
        self._init_irreps(irreps_in=irreps_in, required_irreps_in=[field])
        irreps = self.irreps_in[field]
        if irreps is None or len(irreps) != 1 or irreps[0].ir.l != 0 or irreps[0].ir.p != 1:
            raise ValueError(f"ScalarMLP needs field {field!r} to be even scalars 'Nx0e', got {irreps}")
        self.mlp = ScalarMLPFunction(
            irreps[0].mul,
            output_dim,
            hidden_layers_depth=hidden_layers_depth,
            hidden_layers_width=hidden_layers_width,
            nonlinearity=nonlinearity,
            bias=bias,
            forward_weight_init=forward_weight_init,
            init_mode=init_mode,
            parametrization=parametrization,
        )
        self.irreps_out[self.out_field] = o3.Irreps(f"{output_dim}x0e")

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data[self.out_field] = self.mlp(data[self.field])
        return data
