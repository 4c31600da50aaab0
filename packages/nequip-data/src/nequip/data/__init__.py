"""nequip.data: atomic data for NequIP models.

Field names (:mod:`nequip.data.keys`, also as ``AtomicDataDict.*_KEY``), the field
registry, the ``AtomicDataDict`` helpers, conversion from ASE and from plain dicts,
neighbor lists, and (in subpackages) transforms, datasets, datamodules and dataset
statistics.
"""

from . import AtomicDataDict, keys, stats
from .ase_convert import from_ase, to_ase
from .dict_convert import from_dict
from .fields import (
    _CARTESIAN_TENSOR_FIELDS,
    _EDGE_FIELDS,
    _GRAPH_FIELDS,
    _LONG_FIELDS,
    _NODE_FIELDS,
    _register_field_prefix,
    deregister_fields,
    get_field_type,
    register_fields,
)
from .keys import ABBREV
from .neighborlist import DEFAULT_NEIGHBORLIST_BACKEND, compute_neighborlist_, register_neighborlist_backend
from .sampler import PartialSampler
from .stats import *  # noqa: F403  (the statistics names, listed once in stats.__all__)

__all__ = [
    "AtomicDataDict",
    "keys",
    "ABBREV",
    "from_ase",
    "to_ase",
    "from_dict",
    "register_fields",
    "deregister_fields",
    "get_field_type",
    "_register_field_prefix",
    "_NODE_FIELDS",
    "_EDGE_FIELDS",
    "_GRAPH_FIELDS",
    "_LONG_FIELDS",
    "_CARTESIAN_TENSOR_FIELDS",
    "compute_neighborlist_",
    "register_neighborlist_backend",
    "DEFAULT_NEIGHBORLIST_BACKEND",
    "PartialSampler",
    *stats.__all__,
]
