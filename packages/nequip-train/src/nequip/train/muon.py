"""``MuonWithAuxAdam``: Muon for the weight matrices of hidden layers, Adam for the other parameters.

Muon (K. Jordan et al., 2024, "Muon: an optimizer for hidden layers in neural networks")
replaces the momentum ``M`` of a weight matrix by its orthogonalization: the update is
``U V^T`` for ``M = U S V^T``, approximated by a few steps of a quintic Newton-Schulz
iteration ``X <- a X + (b A + c A^2) X`` with ``A = X X^T`` and ``(a, b, c) = (3.4445,
-4.7750, 2.0315)``, started from ``M / |M|_F`` and run in bfloat16. The update is scaled by
``sqrt(max(1, rows / cols))`` and taken with Nesterov momentum ``beta`` and decoupled weight
decay. e3nn ``Linear`` weights are flat vectors holding one matrix per path: a Muon group's
``e3nn_reshaping`` ``{index in the group: [((start, stop, step), (rows, cols)), ...]}`` says
where each matrix lies, and each is orthogonalized alone.

The parameter groups come from a factory such as :func:`nequip.model.MuonParamGroups`::

    optimizer:
      _target_: nequip.train.MuonWithAuxAdam
      param_groups:
        _target_: nequip.model.MuonParamGroups
        muon: {lr: 0.01, weight_decay: 1.0e-5}
        adam: {lr: 0.01, weight_decay: 1.0e-5}
"""

from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch

_NEWTON_SCHULZ = (3.4445, -4.7750, 2.0315)
#: Options of a Muon group and their defaults.
MUON_DEFAULTS = {"lr": 0.02, "momentum": 0.95, "weight_decay": 0.0, "e3nn_reshaping": None}
#: Options of an Adam group and their defaults.
ADAM_DEFAULTS = {"lr": 3e-4, "betas": (0.9, 0.95), "eps": 1e-10, "weight_decay": 0.0}


def orthogonalize(matrix: torch.Tensor, steps: int = 5, dtype: torch.dtype = torch.bfloat16) -> torch.Tensor:
    """Approximate ``U V^T`` of ``matrix = U S V^T`` (shape ``(rows, cols)``) by ``steps`` Newton-Schulz steps.

    The singular values of the result lie roughly in ``[0.7, 1.2]`` (the iteration trades exact
    convergence for speed); the result is in ``dtype``.
    """
    if matrix.ndim != 2:
        raise ValueError(f"orthogonalize needs a matrix, got shape {tuple(matrix.shape)}")
    a, b, c = _NEWTON_SCHULZ
    tall = matrix.shape[0] > matrix.shape[1]
    x = matrix.to(dtype)
    x = x.T if tall else x
    x = x / (torch.linalg.matrix_norm(x) + 1e-7)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if tall else x


def _slice(spec: Sequence[Any]) -> slice:
    return spec if isinstance(spec, slice) else slice(*spec)


def muon_direction(
    update: torch.Tensor, shape: torch.Size, reshaping: Optional[List[Tuple[Any, Tuple[int, int]]]]
) -> torch.Tensor:
    """The orthogonalized update of one parameter of shape ``shape`` (flat blocks given by ``reshaping``)."""
    blocks = [(slice(None), update.reshape(len(update), -1).shape)] if reshaping is None else reshaping
    flat = update.reshape(-1) if reshaping is not None else update.reshape(len(update), -1)
    pieces = []
    for index, (rows, cols) in ((_slice(s), tuple(m)) for s, m in blocks):
        block = flat[index].reshape(rows, cols)
        pieces.append((orthogonalize(block) * max(1.0, rows / cols) ** 0.5).reshape(-1))
    return torch.cat(pieces).reshape(shape).to(update.dtype)


def _complete_group(index: int, group: Mapping[str, Any]) -> Dict[str, Any]:
    if not isinstance(group, Mapping) or "use_muon" not in group or "params" not in group:
        raise ValueError(
            f"MuonWithAuxAdam: parameter group {index} must be a dict with `params` and `use_muon` "
            f"(e.g. from nequip.model.MuonParamGroups), got {group!r}"
        )
    defaults = MUON_DEFAULTS if group["use_muon"] else ADAM_DEFAULTS
    unknown = sorted(set(group) - set(defaults) - {"params", "use_muon"})
    if unknown:
        kind = "Muon" if group["use_muon"] else "Adam"
        raise ValueError(
            f"MuonWithAuxAdam: {kind} parameter group {index} has unknown options {unknown}; allowed are {sorted(defaults)}"
        )
    return {**defaults, **group}


class MuonWithAuxAdam(torch.optim.Optimizer):
    """Muon on the groups with ``use_muon: true``, Adam on the others (see the module docstring).

    Args:
        params: parameter groups, each with ``params`` and ``use_muon``; Muon groups take
            ``lr`` (default 0.02), ``momentum`` (0.95), ``weight_decay`` (0) and
            ``e3nn_reshaping``; Adam groups ``lr`` (3e-4), ``betas`` ((0.9, 0.95)), ``eps``
            (1e-10) and ``weight_decay`` (0).

    Raises:
        ValueError: for a group without ``params``/``use_muon`` or with options of the other kind.
    """

    def __init__(self, params: Iterable[Mapping[str, Any]]) -> None:
        groups = [_complete_group(index, group) for index, group in enumerate(params)]
        super().__init__(groups, {})

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every parameter (a parameter without gradient counts as a zero gradient)."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for index, param in enumerate(group["params"]):
                grad = torch.zeros_like(param) if param.grad is None else param.grad
                if group["use_muon"]:
                    update = self._muon_update(group, index, param, grad)
                else:
                    update = self._adam_update(group, param, grad)
                param.mul_(1.0 - group["lr"] * group["weight_decay"])
                param.add_(update, alpha=-group["lr"])
        return loss

    def _muon_update(self, group: Dict[str, Any], index: int, param: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        state = self.state[param]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(param)
        momentum = state["momentum_buffer"]
        momentum.lerp_(grad, 1.0 - group["momentum"])
        nesterov = grad.lerp(momentum, group["momentum"])
        reshaping = (group["e3nn_reshaping"] or {}).get(index)
        if reshaping is None and param.ndim < 2:
            raise ValueError(
                f"MuonWithAuxAdam: Muon group parameter {index} has shape {tuple(param.shape)}; "
                "Muon needs matrices (or an e3nn_reshaping entry); put it in an Adam group"
            )
        return muon_direction(nesterov, param.shape, reshaping)

    def _adam_update(self, group: Dict[str, Any], param: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
        state = self.state[param]
        if "step" not in state:
            state.update(step=0, exp_avg=torch.zeros_like(param), exp_avg_sq=torch.zeros_like(param))
        state["step"] += 1
        beta1, beta2 = group["betas"]
        state["exp_avg"].lerp_(grad, 1.0 - beta1)
        state["exp_avg_sq"].lerp_(grad.square(), 1.0 - beta2)
        first = state["exp_avg"] / (1.0 - beta1 ** state["step"])
        second = state["exp_avg_sq"] / (1.0 - beta2 ** state["step"])
        return first / (second.sqrt() + group["eps"])
