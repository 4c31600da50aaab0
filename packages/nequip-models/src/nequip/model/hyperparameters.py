"""Checks of model hyperparameters, run when a model is built (before any training starts).

Every check raises ``ValueError`` naming the argument, the value given and what is allowed.
Per-type values (``avg_num_neighbors``, ``per_type_energy_scales``/``shifts``) are checked by
:func:`nequip.nn.per_type.check_per_type`, activation names by the layers that use them
(:func:`nequip.nn.mlp.check_nonlinearity`, :func:`nequip.nn.convnet.check_activations`).
"""

import math
import numbers
from typing import Any, List, Mapping, Sequence

from nequip.data.instantiation import instantiate
from nequip.nn.graph_module import GraphModuleMixin
from nequip.nn.per_type import as_float


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


def check_positive_float(value: Any, argument: str) -> float:
    """``value`` as a finite float > 0."""
    number = as_float(value)
    if number is None or not math.isfinite(number) or number <= 0:
        raise ValueError(f"{argument} must be a finite number > 0, got {value!r}")
    return number


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

    A config is built with :func:`nequip.data.instantiation.instantiate`, given (as upstream
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
