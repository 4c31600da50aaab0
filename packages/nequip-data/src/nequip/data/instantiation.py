"""Build objects from ``_target_`` config dicts, without depending on hydra.

The datamodules receive their dataset, dataloader and statistics-manager configs as plain
(or OmegaConf) dicts that were not instantiated yet, as upstream NequIP's training script
builds the datamodule with ``_recursive_=False``. They build the objects themselves with
:func:`instantiate`, which follows hydra's conventions for the keys it understands:
``_target_`` (dotted path of a callable), ``_args_`` (positional arguments),
``_partial_`` (return a ``functools.partial``) and ``_recursive_`` (``False``: pass nested
configs on unbuilt). ``_convert_`` is accepted and ignored (results are plain Python).
"""

import functools
import importlib
import inspect
from typing import Any, Callable

_TARGET = "_target_"
_RESERVED = (_TARGET, "_args_", "_partial_", "_recursive_", "_convert_")


def to_plain(config: Any) -> Any:
    """Turn OmegaConf containers into plain dicts and lists (interpolations resolved).

    Other values, including already built objects, are returned unchanged; dicts and lists
    are copied so that the caller may modify the result.
    """
    if type(config).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf  # only present when the config came from hydra

        if OmegaConf.is_config(config):
            return OmegaConf.to_container(config, resolve=True)
    if isinstance(config, dict):
        return {key: to_plain(value) for key, value in config.items()}
    if isinstance(config, list):
        return [to_plain(value) for value in config]
    return config


def locate(path: str) -> Callable:
    """Import the object named by a dotted path such as ``torch.utils.data.DataLoader``."""
    if not isinstance(path, str) or not path:
        raise ValueError(f"{_TARGET} must be a dotted import path, got {path!r}")
    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            # only a missing `module_name` (or a parent) means "try a shorter prefix";
            # a module that exists but fails to import must report its own error
            if err.name is None or not (module_name == err.name or module_name.startswith(err.name + ".")):
                raise
            continue
        for attr_idx, attr in enumerate(parts[split:]):
            if not hasattr(obj, attr):
                raise ValueError(
                    f"{_TARGET} {path!r}: {'.'.join(parts[: split + attr_idx])!r} has no attribute {attr!r}"
                )
            obj = getattr(obj, attr)
        return obj
    raise ValueError(f"{_TARGET} {path!r}: no module {parts[0]!r} can be imported")


def instantiate(config: Any, **overrides: Any) -> Any:
    """Build ``config`` recursively: ``_target_`` dicts are called, other dicts and lists are
    walked, anything else (numbers, strings, already built objects) is returned as is.

    Args:
        config: a config (plain or OmegaConf) or an already built object.
        overrides: keyword arguments added to the top-level ``_target_`` call, used as
            given (not instantiated), e.g. ``dataset=`` for a ``DataLoader``.
    """
    config = to_plain(config)
    if isinstance(config, list):
        return [instantiate(item) for item in config]
    if not isinstance(config, dict):
        if overrides:
            raise ValueError(f"cannot apply arguments {sorted(overrides)} to an already built {type(config).__name__}")
        return config
    if _TARGET not in config:
        return {key: instantiate(value) for key, value in config.items()}

    target_path = config[_TARGET]
    target = locate(target_path) if isinstance(target_path, str) else target_path
    recursive = config.get("_recursive_", True)
    build = instantiate if recursive else (lambda value: value)
    args = [build(value) for value in config.get("_args_", [])]
    kwargs = {key: build(value) for key, value in config.items() if key not in _RESERVED}
    kwargs.update(overrides)
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):  # some builtins have no signature
        signature = None
    partial = config.get("_partial_", False)
    if signature is not None:
        try:
            (signature.bind_partial if partial else signature.bind)(*args, **kwargs)
        except TypeError as err:
            allowed = [name for name in signature.parameters if name not in ("self", "args", "kwargs")]
            raise ValueError(
                f"cannot build {target_path!r} with arguments {sorted(kwargs)}: {err}; its arguments are {allowed}"
            ) from err
    if partial:
        return functools.partial(target, *args, **kwargs)
    return target(*args, **kwargs)
