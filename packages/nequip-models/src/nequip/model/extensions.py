"""Loading installed extension packages (the ``nequip.extension`` entry-point group).

An extension package (e.g. ``nequip-allegro``) declares, in its package metadata::

    [project.entry-points."nequip.extension"]
    init_always = "allegro"

and the command-line programs (``nequip-train``, ``nequip-compile``) import every module so
declared before they read a config or a checkpoint, so that what the module registers when
imported (compile targets, packaging externs, fields) is in place. Only entries named
``init_always`` are loaded, as upstream NequIP does; other names are left for the extension's
own use. Library code is not affected: a script importing ``nequip.model`` loads nothing
until it calls :func:`load_extensions`.
"""

from importlib.metadata import entry_points
from typing import List

#: the entry-point group extension packages declare themselves in
EXTENSION_GROUP = "nequip.extension"
#: the name of the entries whose module is imported by :func:`load_extensions`
LOAD_ALWAYS_NAME = "init_always"


def load_extensions() -> List[str]:
    """Import the module of every installed ``nequip.extension`` entry named ``init_always``.

    Returns:
        the loaded entries' values (module paths, e.g. ``["allegro"]``), in discovery order.

    Raises:
        ImportError: naming the entry point and the distribution that declared it, when its
            module cannot be imported.
    """
    loaded = []
    for entry in entry_points(group=EXTENSION_GROUP):
        if entry.name != LOAD_ALWAYS_NAME:
            continue
        try:
            entry.load()
        except ImportError as err:
            owner = entry.dist.name if entry.dist is not None else "an unknown distribution"
            raise ImportError(
                f"cannot import the nequip extension {entry.value!r} (entry point {LOAD_ALWAYS_NAME} of group "
                f"{EXTENSION_GROUP}, declared by {owner}): {err}"
            ) from err
        loaded.append(entry.value)
    return loaded
