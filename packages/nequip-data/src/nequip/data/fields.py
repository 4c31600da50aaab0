"""Which fields live on atoms (nodes), edges or frames (graphs), and which are integers.

Batching, unbatching, ASE conversion and statistics look fields up here. Extra fields
(e.g. a custom per-atom label read from an extxyz file) are declared with
:func:`register_fields`; an undeclared field is an error wherever its kind matters.

The registries are the module-level sets ``_NODE_FIELDS``, ``_EDGE_FIELDS``,
``_GRAPH_FIELDS``, ``_LONG_FIELDS`` and the dict ``_CARTESIAN_TENSOR_FIELDS`` (field ->
e3nn Cartesian-tensor formula), exported by :mod:`nequip.data` under upstream NequIP's
names for extension packages that read them; they change only through
:func:`register_fields` and :func:`deregister_fields`, in place, so an imported
reference always sees the current registry.
"""

from collections.abc import Mapping
from typing import Dict, Iterable, Literal, Set, Union

from . import keys

FieldType = Literal["node", "edge", "graph"]

_NODE_FIELDS: Set[str] = {
    keys.POSITIONS_KEY,
    keys.ATOMIC_NUMBERS_KEY,
    keys.ATOM_TYPE_KEY,
    keys.BATCH_KEY,
    keys.NODE_ATTRS_KEY,
    keys.NODE_FEATURES_KEY,
    keys.PER_ATOM_ENERGY_KEY,
    keys.FORCE_KEY,
    keys.PER_ATOM_STRESS_KEY,
    keys.MAGMOM_KEY,
    keys.CHARGE_KEY,
}
_EDGE_FIELDS: Set[str] = {
    keys.EDGE_INDEX_KEY,
    keys.EDGE_CELL_SHIFT_KEY,
    keys.EDGE_VECTORS_KEY,
    keys.EDGE_LENGTH_KEY,
    keys.NORM_LENGTH_KEY,
    keys.EDGE_TYPE_KEY,
    keys.EDGE_CUTOFF_KEY,
    keys.EDGE_ATTRS_KEY,
    keys.EDGE_EMBEDDING_KEY,
    keys.EDGE_FEATURES_KEY,
    keys.EDGE_ENERGY_KEY,
    keys.EDGE_TRANSPOSE_PERM_KEY,
}
_GRAPH_FIELDS: Set[str] = {
    keys.CELL_KEY,
    keys.PBC_KEY,
    keys.NUM_NODES_KEY,
    keys.FRAME_INDEX_KEY,
    keys.DATASET_KEY,
    keys.TOTAL_ENERGY_KEY,
    keys.FREE_ENERGY_KEY,
    keys.STRESS_KEY,
    keys.VIRIAL_KEY,
    keys.TOTAL_MAGMOM_KEY,
    keys.TOTAL_CHARGE_KEY,
    keys.TOTAL_SPIN_KEY,
    keys.DIPOLE_KEY,
}
_LONG_FIELDS: Set[str] = {
    keys.ATOMIC_NUMBERS_KEY,
    keys.ATOM_TYPE_KEY,
    keys.EDGE_INDEX_KEY,
    keys.BATCH_KEY,
    keys.NUM_NODES_KEY,
    keys.FRAME_INDEX_KEY,
    keys.DATASET_KEY,
    keys.EDGE_TYPE_KEY,
    keys.EDGE_TRANSPOSE_PERM_KEY,
}
# 3x3 tensors -> their e3nn Cartesian-tensor formula ("ij=ji": symmetric); per-frame ones
# are accepted in files as Voigt-6, 3x3 or flat 9 (ASE convention).
_CARTESIAN_TENSOR_FIELDS: Dict[str, str] = {keys.STRESS_KEY: "ij=ji", keys.VIRIAL_KEY: "ij=ji"}
# the formula of Cartesian-tensor fields registered by name only (Voigt-6 data is symmetric)
SYMMETRIC_FORMULA = "ij=ji"


def _field_names(argument: str, fields: Iterable[str]) -> Set[str]:
    if isinstance(fields, str):
        raise ValueError(f"{argument} must be a list of field names, got the single string {fields!r}")
    names = set(fields)
    bad = sorted(name for name in names if not isinstance(name, str) or not name or "." in name)
    if bad:
        raise ValueError(f"{argument}: field names must be non-empty strings without '.', got {bad}")
    return names


def register_fields(
    node_fields: Iterable[str] = (),
    edge_fields: Iterable[str] = (),
    graph_fields: Iterable[str] = (),
    long_fields: Iterable[str] = (),
    cartesian_tensor_fields: Union[Iterable[str], Mapping] = (),
) -> None:
    """Declare extra fields so that batching and ASE conversion know how to treat them.

    Args:
        node_fields: per-atom fields, first dimension ``N``.
        edge_fields: per-edge fields, first dimension ``E``.
        graph_fields: per-frame fields, first dimension ``B``.
        long_fields: fields stored as int64 instead of float64.
        cartesian_tensor_fields: 3x3 tensors, as a list of names (symmetric, ``"ij=ji"``) or,
            as upstream NequIP takes them, a dict of name -> e3nn formula (``"ij"`` for a
            general tensor). They are per-frame fields (accepted as Voigt-6, 3x3 or flat 9
            in files) unless given in ``node_fields``.

    Raises:
        ValueError: for a field already registered as another kind, a single string
            instead of a list, or a name that is empty or contains ``.``.
    """
    node_fields = _field_names("node_fields", node_fields)
    edge_fields = _field_names("edge_fields", edge_fields)
    graph_fields = _field_names("graph_fields", graph_fields)
    long_fields = _field_names("long_fields", long_fields)
    if isinstance(cartesian_tensor_fields, Mapping):
        formulas = {name: str(formula) for name, formula in cartesian_tensor_fields.items()}
    else:
        formulas = dict.fromkeys(_field_names("cartesian_tensor_fields", cartesian_tensor_fields), SYMMETRIC_FORMULA)
    _field_names("cartesian_tensor_fields", list(formulas))
    graph_fields |= {name for name in formulas if name not in node_fields and name not in _NODE_FIELDS}
    new_kinds = (("node", node_fields), ("edge", edge_fields), ("graph", graph_fields))
    for name, new in new_kinds:
        for other_name, other in (("node", _NODE_FIELDS), ("edge", _EDGE_FIELDS), ("graph", _GRAPH_FIELDS)):
            clash = new & other
            if other_name != name and clash:
                raise ValueError(
                    f"fields {sorted(clash)} cannot be registered as {name} fields: "
                    f"they are already {other_name} fields"
                )
        for other_name, other in new_kinds:
            clash = new & other
            if other_name != name and clash:
                raise ValueError(f"fields {sorted(clash)} are given both as {name} and as {other_name} fields")
    _NODE_FIELDS.update(node_fields)
    _EDGE_FIELDS.update(edge_fields)
    _GRAPH_FIELDS.update(graph_fields)
    _LONG_FIELDS.update(long_fields)
    _CARTESIAN_TENSOR_FIELDS.update(formulas)


def deregister_fields(*fields: str) -> None:
    """Forget fields registered with :func:`register_fields` (built-in keys cannot be removed)."""
    builtin = {v for k, v in vars(keys).items() if k.endswith("_KEY")}
    for field in fields:
        if field in builtin:
            raise ValueError(f"cannot deregister the built-in field {field!r}")
        for registry in (_NODE_FIELDS, _EDGE_FIELDS, _GRAPH_FIELDS, _LONG_FIELDS):
            registry.discard(field)
        _CARTESIAN_TENSOR_FIELDS.pop(field, None)


def _register_field_prefix(prefix: str) -> None:
    """Register ``prefix + name`` for every registered field, with the same kind.

    Upstream NequIP's name, used by callbacks that store a second copy of fields (e.g.
    ``original_dataset_forces`` beside the predicted ``forces``).

    Args:
        prefix: the prefix, ending in ``_``.
    """
    if not isinstance(prefix, str) or not prefix.endswith("_"):
        raise ValueError(f"prefix must be a string ending in '_', got {prefix!r}")
    register_fields(
        node_fields=[prefix + f for f in _NODE_FIELDS],
        edge_fields=[prefix + f for f in _EDGE_FIELDS],
        graph_fields=[prefix + f for f in _GRAPH_FIELDS],
        long_fields=[prefix + f for f in _LONG_FIELDS],
        cartesian_tensor_fields={prefix + f: formula for f, formula in _CARTESIAN_TENSOR_FIELDS.items()},
    )


def get_field_type(field: str) -> FieldType:
    """Return ``"node"``, ``"edge"`` or ``"graph"`` for a known field, else raise ``KeyError``."""
    if field in _NODE_FIELDS:
        return "node"
    if field in _EDGE_FIELDS:
        return "edge"
    if field in _GRAPH_FIELDS:
        return "graph"
    raise KeyError(
        f"unknown field {field!r}: declare it with nequip.data.register_fields("
        "node_fields=..., edge_fields=... or graph_fields=...)"
    )


def is_long_field(field: str) -> bool:
    """True for integer fields (types, indices, counts)."""
    return field in _LONG_FIELDS


def is_cartesian_tensor_field(field: str) -> bool:
    """True for 3x3 tensor fields such as stress and virial."""
    return field in _CARTESIAN_TENSOR_FIELDS
