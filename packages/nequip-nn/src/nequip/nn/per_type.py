"""Per-type hyperparameters: one number for every atom type, or a ``{type name: number}`` dict.

``avg_num_neighbors``, per-type energy scales and shifts take this form, as the dataset
statistics managers return them. Lists are refused, as in upstream NequIP 0.19: they depend
silently on the order of ``type_names``. A NaN or infinite entry (a statistic of a type
with no atoms in the training data) is refused with the type named, rather than silently
building a model that outputs NaN.

Example:
    >>> check_per_type({"O": 2.0, "H": 1.0}, ["H", "O"], "scales")
    {'H': 1.0, 'O': 2.0}
    >>> per_type_list(3.0, ["H", "O"], "shifts")
    [3.0]
"""

import math
import numbers
from typing import Any, List, Mapping, Optional, Sequence, Union

import torch

#: One number for every type, or one per type name.
PerTypeValue = Union[float, Mapping[str, float]]


def as_float(value: Any) -> Optional[float]:
    """``value`` as a float if it is a real number (a one-element floating tensor included;
    bools are not numbers here), else ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and value.is_floating_point():
        return float(value)
    return None


def _check_number(number: float, argument: str, positive: bool, hint: str) -> None:
    if not math.isfinite(number):
        raise ValueError(f"{argument} = {number} is not a finite number{hint}")
    if positive and number <= 0:
        raise ValueError(f"{argument} must be > 0 (a positive number), got {number}")


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
    number = as_float(value)
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
            f"{argument} must have exactly one entry per type name {list(type_names)}; "
            f"missing {missing}, unknown {unknown}"
        )
    out = {}
    for name in type_names:
        number = as_float(value[name])
        if number is None:
            raise ValueError(f"{argument}[{name!r}] must be a number, got {value[name]!r}")
        hint = (
            f" (a dataset statistic is NaN or infinite for a type with no atoms in the training data: "
            f"is {name!r} absent from it? give {argument} by hand, or drop {name!r} from type_names)"
        )
        _check_number(number, f"{argument}[{name!r}]", positive, hint)
        out[name] = number
    return out


def per_type_list(value: Any, type_names: Sequence[str], argument: str, positive: bool = False) -> List[float]:
    """A per-type hyperparameter as floats: ``[value]`` for one number, else one per type name, in order.

    Raises:
        ValueError: for ``None`` and everything :func:`check_per_type` refuses.
    """
    if value is None:
        raise ValueError(f"{argument} must be a number or a dict {{type name: number}}, got None")
    checked = check_per_type(value, type_names, argument, positive)
    if isinstance(checked, Mapping):
        return [checked[name] for name in type_names]
    return [checked]
