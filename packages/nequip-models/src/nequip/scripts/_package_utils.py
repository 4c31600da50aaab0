"""Libraries an extension package declares external to model packages.

Upstream NequIP's packages are ``torch.package`` archives of a model's code, from which
libraries with compiled ops (cuEquivariance, OpenEquivariance) must be left out ("extern")
or replaced by stand-ins ("mock"). Extension packages declare these when imported::

    register_libraries_as_external_for_packaging(extern_modules=["cuequivariance"])

The workspace's packages (:mod:`nequip.model.package`) hold no code: the model is rebuilt
from its config by the installed packages, so every library is external by construction.
The declarations are kept (:func:`external_libraries`, :func:`mocked_libraries`) for the
tools that report what a package needs installed; :func:`nequip.model.package.save_package`
does not read them yet.
"""

from typing import Iterable, List, Optional, Set

__all__ = ["register_libraries_as_external_for_packaging", "external_libraries", "mocked_libraries"]

_EXTERNAL: Set[str] = set()
_MOCKED: Set[str] = set()


def register_libraries_as_external_for_packaging(
    extern_modules: Optional[Iterable[str]] = None, mock_modules: Optional[Iterable[str]] = None
) -> None:
    """Declare top-level libraries external (``extern_modules``) or mocked (``mock_modules``).

    Raises:
        ValueError: for a name that is not a top-level module name (contains a dot or is
            empty), or one declared both external and mocked.
    """
    extern = set(extern_modules or ())
    mock = set(mock_modules or ())
    bad = sorted(name for name in extern | mock if not isinstance(name, str) or not name or "." in name)
    if bad:
        raise ValueError(f"libraries must be top-level module names (e.g. 'cuequivariance'), got {bad}")
    both = sorted((extern | _EXTERNAL) & (mock | _MOCKED))
    if both:
        raise ValueError(f"libraries {both} cannot be both external and mocked")
    _EXTERNAL.update(extern)
    _MOCKED.update(mock)


def external_libraries() -> List[str]:
    """The libraries declared external, sorted."""
    return sorted(_EXTERNAL)


def mocked_libraries() -> List[str]:
    """The libraries declared mocked, sorted."""
    return sorted(_MOCKED)
