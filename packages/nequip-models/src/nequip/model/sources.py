"""Model sources: what the ``_target_`` of a config's ``model:`` section may name.

Three kinds of functions return a model from a config:

* **model builders** (:func:`~nequip.model.model_builder`, e.g. ``nequip.model.NequIPGNNModel``)
  build a new model with fresh weights; its ``model_config`` is the builder's own config;
* **model loaders** (:data:`MODEL_LOADERS`: :func:`~nequip.model.ModelFromCheckpoint`,
  :func:`~nequip.model.ModelFromPackage`) return a trained model read from a file; its
  ``model_config`` is the config the model was stored with, never the loader itself;
* **the modifier** :func:`~nequip.model.modify` applies model modifiers to the model of
  another source; its ``model_config`` is ``{"_target_": "nequip.model.modify", "model":
  <the inner model's config>, "modifiers": [<the persistent modifiers>]}``.

Whatever the source, the model carries ``model_config``: plain data whose top-level
``_target_`` is a model builder or ``modify`` around one (:func:`check_stored_model_config`).
A checkpoint or package stores that config beside the weights, so a model fine-tuned from a
checkpoint or package is rebuilt from its own file, without the file it started from.

Example:
    >>> config = {"_target_": "nequip.model.NequIPGNNModel", "seed": 0, "model_dtype": "float64",
    ...           "type_names": ["H"], "r_max": 3.0, "num_layers": 1, "num_features": 4,
    ...           "avg_num_neighbors": 2.0, "per_type_energy_scales": 1.0, "per_type_energy_shifts": -0.5}
    >>> model = model_from_config(config)
    >>> model.model_config["_target_"]
    'nequip.model.NequIPGNNModel'
"""

import inspect
from typing import Any, Callable, Mapping, Tuple

import torch

from nequip.data.instantiation import locate, to_plain
from nequip.nn.graph_module import GraphModuleMixin

from .builder import is_model_builder
from .modifiers import modify

#: Dotted names of the model loaders (functions that return a trained model read from a file).
MODEL_LOADERS = ("nequip.model.ModelFromCheckpoint", "nequip.model.ModelFromPackage")


def _loaders() -> Tuple[Callable[..., torch.nn.Module], ...]:
    # imported when called: the loaders rebuild the configs they read with model_from_config
    from .checkpoint import ModelFromCheckpoint
    from .package import ModelFromPackage

    return (ModelFromCheckpoint, ModelFromPackage)


def model_from_config(config: Mapping[str, Any]) -> torch.nn.Module:
    """Build or load a model from its config dict: the source named by ``_target_`` called with the other entries.

    As upstream NequIP's training module does, the call is *not* recursive: nested
    ``_target_`` dicts (e.g. ``pair_potential``, or the ``model`` of ``modify``) are passed
    on as they are, and the source builds them with the arguments they need. OmegaConf
    configs are converted to plain data first.

    Raises:
        ValueError: if ``config`` has no ``_target_`` or it names neither a model builder,
            nor a model loader, nor ``modify``.
    """
    config = to_plain(config)
    if not isinstance(config, dict) or "_target_" not in config:
        raise ValueError(f"a model config must be a dict with a _target_, got {config!r}")
    kwargs = dict(config)
    target_path = kwargs.pop("_target_")
    target = locate(target_path)
    if not (is_model_builder(target) or target is modify or target in _loaders()):
        raise ValueError(
            f"model config _target_ {target_path!r} is not a model builder (a function decorated with model_builder), "
            f"a model loader {list(MODEL_LOADERS)} or nequip.model.modify"
        )
    return target(**kwargs)


def check_stored_model_config(config: Any, source: str) -> None:
    """Check that a config read from a file names only what may rebuild a model.

    The top-level ``_target_`` must be a model builder or ``modify`` (whose ``model`` is
    checked the same way); any other nested ``_target_`` a graph-module class (e.g. a
    ``pair_potential``) or a function whose return annotation is one (an extension
    package's submodule factory, e.g. ``allegro.nn.TwoBodyBesselScalarEmbed``). Model loaders are refused: a stored config must rebuild the model
    from the file alone.

    Args:
        config: the stored config (plain data).
        source: the file it was read from, for error messages.

    Raises:
        ValueError: naming the entry whose ``_target_`` is not allowed.
    """
    _check_targets(config, "config", top=True, source=source)


def _is_graph_module_class(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, GraphModuleMixin)


def _builds_graph_module(target: Any) -> bool:
    """A graph-module class, or a function whose return annotation is one.

    Extension packages build submodules with factory functions (e.g. Allegro's
    ``allegro.nn.TwoBodyBesselScalarEmbed`` returns a ``SequentialGraphNetwork``); the
    annotation is their declared contract, read without calling them.
    """
    if _is_graph_module_class(target):
        return True
    if not inspect.isfunction(target):
        return False
    try:
        returned = inspect.signature(target, eval_str=True).return_annotation
    except (NameError, TypeError, ValueError):  # an annotation that does not resolve declares nothing usable
        return False
    return _is_graph_module_class(returned)


def _check_targets(config: Any, path: str, top: bool, source: str) -> None:
    if isinstance(config, list):
        for i, item in enumerate(config):
            _check_targets(item, f"{path}[{i}]", False, source)
        return
    if not isinstance(config, dict):
        return
    if top and "_target_" not in config:
        raise ValueError(f"{source!r}: the model {path} has no _target_")
    nested_top = set()
    if "_target_" in config:
        target_path = config["_target_"]
        target = locate(target_path)
        if top:
            if target is modify:
                nested_top.add("model")
            elif not is_model_builder(target):
                raise ValueError(
                    f"{source!r}: {path}._target_ {target_path!r} is not a model builder or nequip.model.modify "
                    "(a stored model config must rebuild the model by itself)"
                )
        elif not _builds_graph_module(target):
            raise ValueError(
                f"{source!r}: {path}._target_ {target_path!r} is not a graph module class "
                "(nor a function annotated to return one)"
            )
    for key, item in config.items():
        if key == "modifiers" and nested_top:
            continue  # modifier settings: plain data, no _target_ to build
        _check_targets(item, f"{path}.{key}", key in nested_top, source)
