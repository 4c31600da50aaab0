"""Model modifiers: class methods of graph modules that change a built or loaded model.

A *model modifier* is a ``@classmethod`` of a module class, marked with :func:`model_modifier`,
that takes a whole model (and keyword arguments) and changes it in place, usually by swapping
the instances of its own class for another implementation (:func:`replace_submodules`). A
model advertises the modifiers of all the module classes it contains; a user applies one by
name (``nequip.model.modify``), for instance to turn on an accelerated kernel after loading a
checkpoint.

The marker is plain data: a frozen :class:`ModelModifierInfo` stored on the function, read
back with :func:`model_modifier_info`. *Persistent* modifiers change what the model computes
(new weights, new outputs) and are kept when a model is packaged; non-persistent ones only
change how it computes (an accelerated kernel, same numbers) and are applied at run time.
"""

import dataclasses
import inspect
from collections.abc import Callable, Sequence
from typing import Any, Final

import torch

#: the attribute of the underlying function that holds its :class:`ModelModifierInfo`
MODEL_MODIFIER_INFO_ATTR: Final[str] = "__nequip_model_modifier__"


@dataclasses.dataclass(frozen=True)
class ModelModifierInfo:
    """What :func:`model_modifier` records about a modifier.

    Attributes:
        persistent: whether the modifier changes the model's outputs (kept when packaging) or
            only how they are computed (applied at run time).
        private: whether the modifier is internal and left out of user-facing lists.
        unsupported_devices: device types (``"cpu"``, ``"cuda"``, ...) the modifier cannot run on.
        supported_compile_modes: the compile modes the modifier works with; ``None`` for all.
    """

    persistent: bool
    private: bool = False
    unsupported_devices: tuple[str, ...] = ()
    supported_compile_modes: tuple[str, ...] | None = None


def model_modifier(
    persistent: bool,
    private: bool | None = None,
    unsupported_devices: Sequence[str] = (),
    supported_compile_modes: Sequence[str] | None = None,
) -> Callable[[classmethod], classmethod]:
    """Mark a ``@classmethod`` of a module as a model modifier.

    Apply it above ``@classmethod``. The method is called as ``cls.method(model, **kwargs)``
    and returns the modified model.

    Args:
        persistent: ``True`` if the modifier changes the model's outputs (new parameters or
            structure), ``False`` if it only changes the implementation (an accelerated kernel).
        private: whether the modifier is internal; ``None`` means public.
        unsupported_devices: device types the modifier cannot run on.
        supported_compile_modes: compile modes the modifier works with; ``None`` means all.

    Returns:
        The decorator, which returns the classmethod unchanged apart from the recorded
        :class:`ModelModifierInfo`.

    Example:
        >>> import torch
        >>> from nequip.nn.model_modifier_utils import model_modifier, model_modifier_info
        >>> class Linear(torch.nn.Linear):
        ...     @model_modifier(persistent=True)
        ...     @classmethod
        ...     def zero_bias(cls, model):
        ...         for m in model.modules():
        ...             if isinstance(m, cls):
        ...                 torch.nn.init.zeros_(m.bias)
        ...         return model
        >>> model_modifier_info(Linear.zero_bias).persistent
        True
    """
    if not isinstance(persistent, bool):
        raise TypeError(f"model_modifier: `persistent` must be a bool, got {persistent!r}")
    info = ModelModifierInfo(
        persistent=persistent,
        private=bool(private),
        unsupported_devices=tuple(unsupported_devices),
        supported_compile_modes=None if supported_compile_modes is None else tuple(supported_compile_modes),
    )

    def decorator(method: classmethod) -> classmethod:
        if not isinstance(method, classmethod):
            raise TypeError(
                f"@model_modifier must be applied to a classmethod (put it above @classmethod), got {method!r}"
            )
        function = method.__func__
        if hasattr(function, MODEL_MODIFIER_INFO_ATTR):
            raise ValueError(f"{function.__qualname__} is already marked as a model modifier")
        setattr(function, MODEL_MODIFIER_INFO_ATTR, info)
        return method

    return decorator


def model_modifier_info(method: Callable[..., Any]) -> ModelModifierInfo | None:
    """The :class:`ModelModifierInfo` of a modifier, or ``None`` if ``method`` is not one.

    Args:
        method: the modifier as found on its class or instance (a bound classmethod) or its
            underlying function.
    """
    function = getattr(method, "__func__", method)
    info = getattr(function, MODEL_MODIFIER_INFO_ATTR, None)
    return info if isinstance(info, ModelModifierInfo) else None


def is_model_modifier(method: Callable[..., Any]) -> bool:
    """Whether ``method`` was marked with :func:`model_modifier`."""
    return model_modifier_info(method) is not None


def is_persistent_model_modifier(method: Callable[..., Any]) -> bool:
    """Whether the modifier ``method`` changes the model's outputs (see :func:`model_modifier`).

    Raises:
        ValueError: if ``method`` is not a model modifier.
    """
    return _required_info(method).persistent


def is_private_model_modifier(method: Callable[..., Any]) -> bool:
    """Whether the modifier ``method`` is internal (see :func:`model_modifier`).

    Raises:
        ValueError: if ``method`` is not a model modifier.
    """
    return _required_info(method).private


def _required_info(method: Callable[..., Any]) -> ModelModifierInfo:
    info = model_modifier_info(method)
    if info is None:
        raise ValueError(f"{method!r} is not a model modifier (mark it with @model_modifier)")
    return info


def find_model_modifiers(model: torch.nn.Module) -> dict[str, Callable[..., torch.nn.Module]]:
    """All model modifiers offered by the module classes in ``model``, by name.

    Args:
        model: the model to search (every submodule, ``model`` included).

    Returns:
        ``{name: modifier}`` with each modifier bound to the class that defines it, so that
        ``modifier(model, **kwargs)`` applies it.

    Raises:
        ValueError: if two different classes in ``model`` define modifiers with the same name.
    """
    found: dict[str, Callable[..., torch.nn.Module]] = {}
    for module in model.modules():
        for name, member in inspect.getmembers(type(module), predicate=inspect.ismethod):
            if not is_model_modifier(member):
                continue
            if name in found and found[name] != member:
                raise ValueError(
                    f"model modifier name {name!r} is defined by two classes in the model: "
                    f"{found[name].__self__.__qualname__} and {member.__self__.__qualname__}"
                )
            found[name] = member
    return found


def replace_submodules(
    model: torch.nn.Module,
    target_cls: type[torch.nn.Module],
    factory: Callable[[torch.nn.Module], torch.nn.Module],
) -> torch.nn.Module:
    """Replace, in place, every submodule of ``model`` that is an instance of ``target_cls``.

    Each instance ``old`` is replaced by ``factory(old)`` at the same place in the module tree.
    The search does not descend into a replaced module. ``model`` itself is never replaced.

    Args:
        model: the model to change.
        target_cls: the class whose instances (subclasses included) are replaced.
        factory: builds the replacement from the module it replaces.

    Returns:
        ``model``, changed in place.

    Example:
        >>> import torch
        >>> from nequip.nn.model_modifier_utils import replace_submodules
        >>> model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sequential(torch.nn.ReLU()))
        >>> _ = replace_submodules(model, torch.nn.ReLU, lambda old: torch.nn.Tanh())
        >>> model[1][0]
        Tanh()
    """
    for name, child in list(model.named_children()):
        if isinstance(child, target_cls):
            setattr(model, name, factory(child))
        else:
            replace_submodules(child, target_cls, factory)
    return model
