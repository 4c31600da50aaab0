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
  ``chemical_species_to_atom_type_map`` from ``chemical_symbols``);
* ``${list_to_constant_dict:LIST,VALUE}``: ``{x: VALUE for x in LIST}`` (e.g. one
  ``per_type_cutoff`` for every type);
* ``${concat_lists:A,B}``: the list ``A + B``;
* ``${big_dataset_stats:NAME,CUTOFF}``: statistics of a large data set computed once by a
  separate run and stored in a file (see :mod:`nequip.train.big_dataset_stats`);
* ``${type_names_from_package:PATH}``, ``${cutoff_radius_from_package:PATH}``: the type
  names and cutoff radius of a packaged model (``.nequip.zip``, see
  :mod:`nequip.model.package`), read from its metadata, e.g. for fine-tuning from it.

Extension packages add their own resolvers with :func:`register_resolvers` (a dict of
resolvers), or declare them under the entry-point group ``nequip.resolvers`` (an entry
point naming a ``{name: function}`` dict), which :func:`register_resolvers` loads with the
built-in ones, before any config is resolved.

Example:
    >>> from omegaconf import OmegaConf
    >>> register_resolvers()
    >>> cfg = OmegaConf.create({"w": 32, "mlp": "${int_mul:${w},2}", "half": "${int_div:${w},2}"})
    >>> cfg.mlp, cfg.half
    (64, 16)
"""

from importlib.metadata import entry_points
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from omegaconf import ListConfig, OmegaConf

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
    """An integer argument; a string of digits (``${oc.env:VAR}`` gives strings) counts as one."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
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


def _as_list(resolver: str, value: Any) -> List[Any]:
    if not isinstance(value, (list, tuple, ListConfig)):
        raise ValueError(f"{resolver} needs lists, got {value!r}")
    return list(value)


def list_to_identity_dict(items: Sequence[Any]) -> Dict[Any, Any]:
    """``{x: x for x in items}``."""
    return {item: item for item in _as_list("list_to_identity_dict", items)}


def list_to_constant_dict(items: Sequence[Any], value: Any) -> Dict[Any, Any]:
    """``{x: value for x in items}``."""
    return {item: value for item in _as_list("list_to_constant_dict", items)}


def concat_lists(first: Sequence[Any], second: Sequence[Any]) -> List[Any]:
    """``first + second``."""
    return _as_list("concat_lists", first) + _as_list("concat_lists", second)


#: The name upstream NequIP gives the one model of a training module (``model_key`` of its package resolvers).
SOLE_MODEL_KEY = "sole_model"


def type_names_from_package(package_path: str) -> List[str]:
    """The type names of a packaged model (its metadata is read; the model is not built)."""
    from nequip.model import type_names_from_package as read_type_names

    return read_type_names(str(package_path))


def cutoff_radius_from_package(package_path: str, model_key: Optional[str] = None) -> float:
    """The cutoff radius of a packaged model (its metadata is read; the model is not built).

    Args:
        package_path: a ``.nequip.zip`` file.
        model_key: upstream's key of a model in a multi-model package; packages of this
            workspace hold one model, so only ``None`` or ``"sole_model"``.

    Raises:
        ValueError: for another ``model_key``, or a file that is not a package.
    """
    from nequip.model import cutoff_radius_from_package as read_cutoff

    if model_key not in (None, SOLE_MODEL_KEY):
        raise ValueError(
            f"cutoff_radius_from_package: model_key={model_key!r}, but packages hold one model "
            f"(model_key null or {SOLE_MODEL_KEY!r})"
        )
    return read_cutoff(str(package_path))


#: Entry-point group of the resolvers of extension packages (each a ``{name: function}`` dict).
ENTRY_POINT_GROUP = "nequip.resolvers"


def builtin_resolvers() -> Dict[str, Callable]:
    """The resolvers of this package, by name (``training_data_stats`` is registered separately)."""
    from .big_dataset_stats import big_dataset_stats

    return {
        "int_mul": int_mul,
        "int_div": int_div,
        "list_to_identity_dict": list_to_identity_dict,
        "list_to_constant_dict": list_to_constant_dict,
        "concat_lists": concat_lists,
        # a DictConfig, so that other interpolations can read its fields (${stats.num_neighbors_mean})
        "big_dataset_stats": lambda name, cutoff: OmegaConf.create(big_dataset_stats(name, cutoff)),
        "type_names_from_package": type_names_from_package,
        "cutoff_radius_from_package": cutoff_radius_from_package,
    }


def extension_resolvers() -> Dict[str, Callable]:
    """The resolvers declared by installed packages under the entry-point group ``nequip.resolvers``.

    Raises:
        ValueError: for an entry point that is not a ``{name: function}`` dict, or two packages
            declaring the same name.
    """
    found: Dict[str, Callable] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        resolvers = point.load()
        if not isinstance(resolvers, Mapping) or not all(callable(f) for f in resolvers.values()):
            raise ValueError(f"entry point {point.value!r} ({ENTRY_POINT_GROUP}) must be a {{name: function}} dict")
        clash = sorted(set(resolvers) & set(found))
        if clash:
            raise ValueError(f"resolvers {clash} are declared by more than one package ({ENTRY_POINT_GROUP})")
        found.update(resolvers)
    return found


def register_resolvers(resolvers: Optional[Mapping[str, Callable]] = None) -> None:
    """Register resolvers with OmegaConf.

    Without argument: ``training_data_stats`` (with no statistics yet), the built-in resolvers
    (see the module docstring) and those of installed extension packages (entry-point group
    ``nequip.resolvers``); calling it again registers them anew. With a ``{name: function}``
    dict: those resolvers, for an extension package that registers its own explicitly.

    Raises:
        ValueError: for a name of a built-in resolver in ``resolvers`` or in an extension's
            entry point.
    """
    builtin = builtin_resolvers()
    if resolvers is None:
        extra = extension_resolvers()
        register_training_data_stats(None)
    else:
        extra = dict(resolvers)
    taken = sorted(set(extra) & (set(builtin) | {"training_data_stats"}))
    if taken:
        raise ValueError(f"resolver names {taken} are built into nequip.train; choose other names")
    for name, function in {**(builtin if resolvers is None else {}), **extra}.items():
        OmegaConf.register_new_resolver(name, function, replace=True)
