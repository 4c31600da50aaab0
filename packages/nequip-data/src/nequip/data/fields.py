"""Which fields live on atoms (nodes), edges or frames (graphs), and which are integers.

Batching, unbatching, ASE conversion and statistics look fields up here. Extra fields
(e.g. a custom per-atom label read from an extxyz file) are declared with
:func:`register_fields`; an undeclared field is an error wherever its kind matters.
"""

from typing import Iterable, Literal, Set

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
}
_GRAPH_FIELDS: Set[str] = {
    keys.CELL_KEY,
    keys.PBC_KEY,
    keys.NUM_NODES_KEY,
    keys.FRAME_INDEX_KEY,
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
    keys.EDGE_TYPE_KEY,
}
# Fields given in the ASE convention as 3x3 tensors (or Voigt-6 / flat 9 in files).
_CARTESIAN_TENSOR_FIELDS: Set[str] = {keys.STRESS_KEY, keys.VIRIAL_KEY}


def register_fields(
    node_fields: Iterable[str] = (),
    edge_fields: Iterable[str] = (),
    graph_fields: Iterable[str] = (),
    long_fields: Iterable[str] = (),
    cartesian_tensor_fields: Iterable[str] = (),
) -> None:
    """Declare extra fields so that batching and ASE conversion know how to treat them.

    Args:
        node_fields: per-atom fields, first dimension ``N``.
        edge_fields: per-edge fields, first dimension ``E``.
        graph_fields: per-frame fields, first dimension ``B``.
        long_fields: fields stored as int64 instead of float64.
        cartesian_tensor_fields: per-frame 3x3 tensors accepted as Voigt-6, 3x3 or flat 9.
    """
    node_fields, edge_fields, graph_fields = set(node_fields), set(edge_fields), set(graph_fields)
    for name, new in (("node", node_fields), ("edge", edge_fields), ("graph", graph_fields)):
        for other_name, other in (("node", _NODE_FIELDS), ("edge", _EDGE_FIELDS), ("graph", _GRAPH_FIELDS)):
            clash = new & other
            if other_name != name and clash:
                raise ValueError(
                    f"fields {sorted(clash)} cannot be registered as {name} fields: "
                    f"they are already {other_name} fields"
                )
    _NODE_FIELDS.update(node_fields)
    _EDGE_FIELDS.update(edge_fields)
    _GRAPH_FIELDS.update(graph_fields)
    _LONG_FIELDS.update(long_fields)
    cartesian = set(cartesian_tensor_fields)
    _GRAPH_FIELDS.update(cartesian)
    _CARTESIAN_TENSOR_FIELDS.update(cartesian)


def deregister_fields(*fields: str) -> None:
    """Forget fields registered with :func:`register_fields` (built-in keys cannot be removed)."""
    builtin = {v for k, v in vars(keys).items() if k.endswith("_KEY")}
    for field in fields:
        if field in builtin:
            raise ValueError(f"cannot deregister the built-in field {field!r}")
        for registry in (_NODE_FIELDS, _EDGE_FIELDS, _GRAPH_FIELDS, _LONG_FIELDS, _CARTESIAN_TENSOR_FIELDS):
            registry.discard(field)


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
    """True for per-frame 3x3 tensors such as stress and virial."""
    return field in _CARTESIAN_TENSOR_FIELDS
