"""Checks of model hyperparameters, run when a model is built (before any training starts).

Every check raises ``ValueError`` naming the argument, the value given and what is allowed.
Per-type values (``avg_num_neighbors``, ``per_type_energy_scales``/``shifts``) are one
number or a dict keyed by type name, as the dataset statistics managers return them; a
NaN or infinite entry (a type absent from the training data) is refused with the type
named, rather than silently building a model that outputs NaN.
"""

import math
import numbers
from typing import Any, List, Mapping, Optional, Sequence, Union

import torch

from nequip.data.config import instantiate
from nequip.nn.graph_module import GraphModuleMixin
from nequip.nn.mlp import NONLINEARITIES

PerTypeValue = Union[float, Mapping[str, float]]


def check_int(value: Any, argument: str, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{argument} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_bool(value: Any, argument: str) -> bool:
    """``value`` if it is a bool (``0``/``1`` or strings are refused: they hide typos)."""
    if not isinstance(value, bool):
        raise ValueError(f"{argument} must be true or false, got {value!r}")
    return value


def _as_float(value: Any) -> Optional[float]:
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
        return float(value)
    return None


def check_positive_float(value: Any, argument: str) -> float:
    """``value`` as a finite float > 0."""
    number = _as_float(value)
    if number is None or not math.isfinite(number) or number <= 0:
        raise ValueError(f"{argument} must be a finite number > 0, got {value!r}")
    return number


def check_per_type(
    value: Any, type_names: Sequence[str], argument: str, positive: bool = False
) -> Optional[PerTypeValue]:
    """Validate one number or a ``{type name: number}`` dict; ``None`` passes through.

    Args:
        value: the hyperparameter.
        type_names: the model's atom types; a dict must have exactly these keys.
        argument: its name, for error messages.
        positive: values must be > 0.

    Returns:
        a float, or a dict ``{type name: float}`` in ``type_names`` order, or ``None``.

    Raises:
        ValueError: for lists, strings, wrong dict keys (missing and unknown listed), and
            NaN, infinite or (with ``positive``) non-positive values, naming the type.
    """
    if value is None:
        return None
    number = _as_float(value)
    if number is not None:
        _check_number(number, argument, positive, hint="")
        return number
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{argument} must be a number or a dict {{type name: number}} with keys {list(type_names)} "
            f"(lists are not accepted: they depend silently on the order of type_names), "
            f"got {type(value).__name__} {value!r}"
        )
    missing = [t for t in type_names if t not in value]
    unknown = [k for k in value if k not in type_names]
    if missing or unknown:
        raise ValueError(
            f"{argument} must have exactly one entry per type name {list(type_names)}; missing {missing}, unknown {unknown}"
        )
    out = {}
    for name in type_names:
        number = _as_float(value[name])
        if number is None:
            raise ValueError(f"{argument}[{name!r}] must be a number, got {value[name]!r}")
        hint = (
            f" (a dataset statistic is NaN or infinite for a type with no atoms in the training data: "
            f"is {name!r} absent from it? give {argument} by hand, or drop {name!r} from type_names)"
        )
        _check_number(number, f"{argument}[{name!r}]", positive, hint)
        out[name] = number
    return out


def _check_number(number: float, argument: str, positive: bool, hint: str) -> None:
    if not math.isfinite(number):
        raise ValueError(f"{argument} = {number} is not a finite number{hint}")
    if positive and number <= 0:
        raise ValueError(f"{argument} must be > 0, got {number}")


def check_nonlinearity(name: Any, argument: str) -> Optional[str]:
    """``name`` if it is a key of :data:`nequip.nn.mlp.NONLINEARITIES`."""
    if not isinstance(name, (str, type(None))) or name not in NONLINEARITIES:
        raise ValueError(f"{argument}={name!r} is not allowed; allowed are {list(NONLINEARITIES)}")
    return name


def num_features_per_l(num_features: Any, l_max: int) -> List[int]:
    """``num_features`` (an int, or a list of l_max + 1 ints) as one multiplicity per l."""
    if isinstance(num_features, Sequence) and not isinstance(num_features, str):
        values = list(num_features)
        if len(values) != l_max + 1:
            raise ValueError(
                f"num_features as a list needs l_max + 1 = {l_max + 1} entries (one per l = 0..{l_max}), "
                f"got {len(values)}: {values}"
            )
        return [check_int(v, f"num_features[{l}]", 1) for l, v in enumerate(values)]
    return [check_int(num_features, "num_features", 1)] * (l_max + 1)


def build_pair_potential(
    pair_potential: Any, type_names: Sequence[str], irreps_in: Mapping[str, Any]
) -> GraphModuleMixin:
    """The ``pair_potential`` graph module: a ``_target_`` config or an already built module.

    A config is built with :func:`nequip.data.config.instantiate`, given (as upstream
    NequIP's builder does) ``type_names`` and ``irreps_in`` (the fields written before it,
    including the normalized edge lengths ``r / r_c``, from which e.g. ZBL takes its cutoff,
    per-edge-type cutoffs included).

    Raises:
        ValueError: for a value that is neither, or a target that is not a graph module.
    """
    if isinstance(pair_potential, GraphModuleMixin):
        return pair_potential
    if not (isinstance(pair_potential, Mapping) or type(pair_potential).__module__.startswith("omegaconf")):
        raise ValueError(
            "pair_potential must be a config dict with _target_ (e.g. {'_target_': 'nequip.nn.pair_potential.ZBL', "
            f"'units': 'metal', 'chemical_species': [...]}}) or a graph module, got {type(pair_potential).__name__}"
        )
    if "_target_" not in pair_potential:
        raise ValueError(f"pair_potential config needs a _target_, got keys {sorted(pair_potential)}")
    module = instantiate(pair_potential, type_names=list(type_names), irreps_in=dict(irreps_in))
    if not isinstance(module, GraphModuleMixin):
        raise ValueError(
            f"pair_potential _target_ {pair_potential['_target_']!r} built a {type(module).__name__}, not a graph module"
        )
    return module
