"""OmegaConf resolvers of training configs, registered by :func:`register_resolvers`.

Nothing is registered at import (the CLI calls :func:`register_resolvers`, then
:func:`register_training_data_stats` once the statistics are computed). OmegaConf keeps its
resolvers in a process-wide registry; this module keeps no state of its own: the statistics
live in the closure registered for ``training_data_stats``.

* ``${training_data_stats:NAME}``: a statistic of the training data (see
  :func:`register_training_data_stats`); an unknown name raises ``KeyError`` listing the
  names that were computed;
* ``${int_mul:A,B}``: ``A * B`` for integers;
* ``${int_div:A,B}``: ``A / B`` for integers, ``B`` dividing ``A`` exactly;
* ``${list_to_identity_dict:LIST}``: ``{x: x for x in LIST}`` (e.g. a
  ``chemical_species_to_atom_type_map`` from ``chemical_symbols``).

Example:
    >>> from omegaconf import OmegaConf
    >>> register_resolvers()
    >>> cfg = OmegaConf.create({"w": 32, "mlp": "${int_mul:${w},2}", "half": "${int_div:${w},2}"})
    >>> cfg.mlp, cfg.half
    (64, 16)
"""

from typing import Any, Callable, Dict, List, Mapping, Optional

from omegaconf import OmegaConf

from nequip.data import lookup_statistic


def training_data_stats_resolver(stats: Optional[Mapping[str, Any]]) -> Callable[[str], Any]:
    """The lookup behind ``${training_data_stats:NAME}`` in a copy of ``stats``.

    ``None`` (no statistics computed) gives a lookup that raises ``KeyError`` for every name,
    saying how to compute them.
    """
    stats = None if stats is None else dict(stats)

    def training_data_stats(name: str) -> Any:
        if stats is None:
            raise KeyError(
                f"${{training_data_stats:{name}}} is used but no training-data statistics were computed: add a "
                "`stats_manager` to the `data` section (e.g. nequip.data.CommonDataStatisticsManager)"
            )
        return lookup_statistic(stats, name)

    return training_data_stats


def register_training_data_stats(stats: Optional[Mapping[str, Any]]) -> None:
    """Make ``${training_data_stats:NAME}`` read ``stats`` (``None``: no statistics, every name an error)."""
    OmegaConf.register_new_resolver(
        "training_data_stats", training_data_stats_resolver(stats), replace=True, use_cache=False
    )


def _check_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} needs integers, got {value!r}")
    return value


def int_mul(a: int, b: int) -> int:
    """``a * b`` for integers."""
    return _check_int("int_mul", a) * _check_int("int_mul", b)


def int_div(a: int, b: int) -> int:
    """``a // b`` for integers, raising ``ValueError`` unless ``b`` divides ``a``."""
    a, b = _check_int("int_div", a), _check_int("int_div", b)
    if b == 0 or a % b != 0:
        raise ValueError(f"int_div: {b} does not divide {a} exactly")
    return a // b


def list_to_identity_dict(items: List[Any]) -> Dict[Any, Any]:
    """``{x: x for x in items}``."""
    return {item: item for item in items}


def register_resolvers() -> None:
    """Register ``training_data_stats`` (with no statistics yet), ``int_mul``, ``int_div`` and
    ``list_to_identity_dict`` with OmegaConf."""
    register_training_data_stats(None)
    OmegaConf.register_new_resolver("int_mul", int_mul, replace=True)
    OmegaConf.register_new_resolver("int_div", int_div, replace=True)
    OmegaConf.register_new_resolver(
        "list_to_identity_dict", lambda items: list_to_identity_dict(list(items)), replace=True
    )
