"""The ``model_builder`` decorator: seeded, dtype-controlled model construction.

A model builder is a function that returns a graph module (e.g. a ``ForceStressOutput``)
from hyperparameters. Decorated with :func:`model_builder`, it is called with three extra
keyword arguments that the decorator consumes:

* ``seed`` (int): the weights are drawn from a random state seeded with it; the caller's
  global torch random state is saved before and restored after, so building a model
  never changes the caller's random numbers, and the same seed and config always give
  the same initial weights;
* ``model_dtype`` (``"float32"`` or ``"float64"``): the dtype of the weights (the model is
  built with it as torch's default dtype);
* ``compile_mode`` (``"eager"``, the default, or ``"compile"``): the wrapper of the result,
  :class:`~nequip.nn.graph_module.GraphModel` or
  :class:`~nequip.model.torch_compile.CompileGraphModel`.

``type_names`` is also required. The result is wrapped with its metadata (type names,
``r_max``, dtype, per-edge-type cutoffs) and carries its config as plain data with a
``_target_`` (``model.model_config``), from which :mod:`nequip.model.checkpoint`
rebuilds it (:func:`~nequip.model.sources.model_from_config`).

Builders can be nested: a builder called while another is building returns the bare
graph module (no wrapper, no reseeding), inheriting ``type_names`` from the outer call.

State: "while another is building" and :func:`override_model_compile_mode` are dynamic
scopes, kept in two ``contextvars.ContextVar`` s (per thread and per asyncio task, set
and reset by the outermost call only). Nothing else is kept between calls. They cannot be
explicit arguments: an inner builder is called by the outer builder's own code (written
for upstream NequIP's API), which has no build context to pass on.

Example:
    >>> from nequip.nn.atomwise import AtomwiseReduce
    >>> from nequip.nn.graph_module import SequentialGraphNetwork
    >>> from nequip.nn.node_embedding import NodeTypeEmbed
    >>> from nequip.nn.mlp import ScalarMLP
    >>> from nequip.data import keys
    >>> @model_builder
    ... def TinyModel(type_names, r_max: float, width: int = 4):
    ...     embed = NodeTypeEmbed(type_names, width)
    ...     readout = ScalarMLP(1, out_field=keys.PER_ATOM_ENERGY_KEY, irreps_in=embed.irreps_out)
    ...     total = AtomwiseReduce(keys.PER_ATOM_ENERGY_KEY, keys.TOTAL_ENERGY_KEY, irreps_in=readout.irreps_out)
    ...     return SequentialGraphNetwork({"embed": embed, "readout": readout, "total": total})
    >>> model = TinyModel(seed=1, model_dtype="float64", type_names=["H", "O"], r_max=3.0)
    >>> model.model_config["width"], model.model_dtype
    (4, torch.float64)
"""

import contextlib
import contextvars
import functools
import importlib
import inspect
from typing import Any, Callable, Dict, Iterator, Optional, Sequence

from nequip.data.instantiation import to_plain
from nequip.nn.build_scope import check_model_dtype, default_dtype, seeded_rng
from nequip.nn.graph_module import GraphModel, GraphModuleMixin
from nequip.nn.radial import per_edge_type_cutoff_dict, per_edge_type_cutoff_table

#: Allowed ``compile_mode`` values.
COMPILE_MODES = ("eager", "compile")
#: Keyword arguments consumed by the decorator (not passed to the builder function).
BUILDER_ARGUMENTS = ("seed", "model_dtype", "compile_mode")

# the outer build in progress: {"seed", "model_dtype", "type_names"}; None when not building
_CURRENT_BUILD: contextvars.ContextVar = contextvars.ContextVar("nequip_model_build", default=None)
# compile mode forced by override_model_compile_mode; None when not overridden
_COMPILE_OVERRIDE: contextvars.ContextVar = contextvars.ContextVar("nequip_compile_override", default=None)


@contextlib.contextmanager
def override_model_compile_mode(compile_mode: str) -> Iterator[None]:
    """Build every model inside this context with ``compile_mode``, whatever their configs say.

    Used when loading checkpoints (their config records the compile mode of training).
    Nested overrides: the outermost one wins.

    Raises:
        ValueError: for a mode not in :data:`COMPILE_MODES`.
    """
    if compile_mode not in COMPILE_MODES:
        raise ValueError(f"compile_mode={compile_mode!r} is not allowed; allowed are {list(COMPILE_MODES)}")
    if _COMPILE_OVERRIDE.get() is not None:
        yield
        return
    token = _COMPILE_OVERRIDE.set(compile_mode)
    try:
        yield
    finally:
        _COMPILE_OVERRIDE.reset(token)


def is_model_builder(target: Any) -> bool:
    """Whether ``target`` is a model builder: a function decorated with :func:`model_builder`, or a
    hand-written builder that declares ``is_nequip_model_builder = True`` (see the extension guide)."""
    return callable(target) and getattr(target, "is_nequip_model_builder", False) is True


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return seed


def _check_type_names(type_names: Any) -> list:
    if isinstance(type_names, str) or not isinstance(type_names, Sequence):
        raise ValueError(f"type_names must be a list of type names such as ['C', 'H'], got {type_names!r}")
    names = list(type_names)
    if not names or not all(isinstance(t, str) and t for t in names):
        raise ValueError(f"type_names must be a non-empty list of non-empty strings, got {type_names!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"type_names must be unique, got {names}")
    return names


def _public_target(func: Callable, name: str) -> str:
    """Shortest importable dotted path to ``func`` (``nequip.model.X`` rather than ``nequip.model.mod.X``).

    A function without a module (e.g. defined in an ``exec``'d string) records its bare name.
    """
    if func.__module__ is None:
        return name
    parts = func.__module__.split(".")
    for end in range(1, len(parts) + 1):
        prefix = ".".join(parts[:end])
        try:
            if getattr(importlib.import_module(prefix), name, None) is func:
                return f"{prefix}.{name}"
        except ImportError:
            continue
    return f"{func.__module__}.{name}"


def _wrapper_signature(f: Callable) -> inspect.Signature:
    """Signature of ``f`` plus keyword-only ``seed``, ``model_dtype``, ``compile_mode``."""
    signature = inspect.signature(f)
    params = list(signature.parameters.values())
    added = [
        inspect.Parameter("seed", inspect.Parameter.KEYWORD_ONLY, annotation=int),
        inspect.Parameter("model_dtype", inspect.Parameter.KEYWORD_ONLY, annotation=str),
        inspect.Parameter("compile_mode", inspect.Parameter.KEYWORD_ONLY, default="eager", annotation=str),
    ]
    added = [p for p in added if p.name not in signature.parameters]
    order = [
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
        inspect.Parameter.VAR_POSITIONAL,
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.VAR_KEYWORD,
    ]
    merged = sorted(params + added, key=lambda p: order.index(p.kind))
    return signature.replace(parameters=merged)


def _bound_arguments(f: Callable, args: tuple, kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Arguments of a call to ``f`` by name, defaults included (``**kwargs`` flattened)."""
    signature = inspect.signature(f)
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as err:
        allowed = [p for p in signature.parameters if p not in ("args", "kwargs")]
        allowed += [p for p in BUILDER_ARGUMENTS if p not in allowed]
        raise ValueError(f"{f.__name__}: {err}; its arguments are {allowed}") from err
    bound.apply_defaults()
    out: Dict[str, Any] = {}
    for name, value in bound.arguments.items():
        if signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        else:
            out[name] = value
    return out


def model_builder(
    func: Optional[Callable] = None,
    *,
    wrapper_class: Optional[type] = None,
    compile_wrapper_class: Optional[type] = None,
):
    """Make ``func`` a model builder (see the module docstring).

    Use as ``@model_builder`` or ``@model_builder(wrapper_class=..., compile_wrapper_class=...)``.

    Args:
        func: the builder function; it must accept ``type_names`` and ``r_max`` (the
            cutoff of the model's metadata) and return a graph module.
        wrapper_class: wrapper for ``compile_mode="eager"`` (default
            :class:`~nequip.nn.graph_module.GraphModel`).
        compile_wrapper_class: wrapper for ``compile_mode="compile"`` (default
            :class:`~nequip.model.torch_compile.CompileGraphModel`).

    The decorated function raises ``ValueError`` for a missing or invalid ``seed``,
    ``model_dtype``, ``compile_mode`` or ``type_names``, and for unknown arguments.
    """

    def decorator(f: Callable) -> Callable:
        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any):
            outer = _CURRENT_BUILD.get()
            if outer is not None:
                return _nested_call(f, outer, args, kwargs)
            return _outer_call(f, wrapper, args, kwargs, wrapper_class, compile_wrapper_class)

        wrapper.__signature__ = _wrapper_signature(f)
        wrapper.is_nequip_model_builder = True
        return wrapper

    return decorator if func is None else decorator(func)


def _nested_call(f: Callable, outer: Dict[str, Any], args: tuple, kwargs: Dict[str, Any]):
    for name in ("seed", "model_dtype"):
        if name in kwargs and kwargs.pop(name) != outer[name]:
            raise ValueError(
                f"{f.__name__} is called inside another model builder with {name} different from the outer "
                f"builder's ({outer[name]!r}); a nested builder uses the outer builder's {name}"
            )
    kwargs.pop("compile_mode", None)  # only the outermost builder wraps (and compiles)
    if "type_names" in inspect.signature(f).parameters and "type_names" not in kwargs:
        kwargs["type_names"] = outer["type_names"]
    return f(*args, **kwargs)


def _outer_call(f, wrapper, args, kwargs, wrapper_class, compile_wrapper_class):
    missing = [name for name in ("seed", "model_dtype", "type_names") if name not in kwargs]
    if missing:
        raise ValueError(
            f"{f.__name__} needs the model builder arguments {missing} (seed, model_dtype and type_names are required)"
        )
    config = {"_target_": _public_target(wrapper, f.__name__)}
    config.update({k: to_plain(v) for k, v in _bound_arguments(wrapper, args, kwargs).items()})
    seed = _check_seed(kwargs.pop("seed"))
    model_dtype = kwargs.pop("model_dtype")
    dtype = check_model_dtype(model_dtype)
    compile_mode = kwargs.pop("compile_mode", "eager")
    if compile_mode not in COMPILE_MODES:
        raise ValueError(f"compile_mode={compile_mode!r} is not allowed; allowed are {list(COMPILE_MODES)}")
    compile_mode = _COMPILE_OVERRIDE.get() or compile_mode
    type_names = _check_type_names(kwargs["type_names"])
    arguments = _bound_arguments(f, args, kwargs)
    if "r_max" not in arguments:
        raise ValueError(f"{f.__name__}: a model builder must take r_max (the cutoff recorded in the model's metadata)")

    if compile_mode == "compile":
        if compile_wrapper_class is None:
            from .torch_compile import CompileGraphModel

            compile_wrapper_class = CompileGraphModel
        wrap = compile_wrapper_class
    else:
        wrap = GraphModel if wrapper_class is None else wrapper_class

    token = _CURRENT_BUILD.set({"seed": seed, "model_dtype": model_dtype, "type_names": type_names})
    try:
        with default_dtype(dtype), seeded_rng(seed):
            module = f(*args, **kwargs)
            if not isinstance(module, GraphModuleMixin):
                raise ValueError(
                    f"{f.__name__} returned a {type(module).__name__}, not a graph module (GraphModuleMixin)"
                )
            r_max = float(arguments["r_max"])
            cutoffs = arguments.get("per_edge_type_cutoff")
            if cutoffs is not None:
                cutoffs = per_edge_type_cutoff_dict(per_edge_type_cutoff_table(cutoffs, type_names, r_max), type_names)
            model = wrap(
                module,
                type_names=type_names,
                r_max=r_max,
                model_dtype=model_dtype,
                per_edge_type_cutoff=cutoffs,
                model_input_fields=module.irreps_in,
            )
    finally:
        _CURRENT_BUILD.reset(token)
    #: the builder config as plain data with ``_target_`` (see :mod:`nequip.model.checkpoint`)
    model.model_config = config
    return model
