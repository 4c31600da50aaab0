"""The graph-module contract: modules that read and write an ``AtomicDataDict``.

Every layer of a NequIP-style model is a :class:`GraphModuleMixin` ``torch.nn.Module``
whose ``forward(data)`` takes a ``dict[str, Tensor]`` and returns it with some fields
added or replaced. Each module declares, when it is built, which fields it reads and
writes and their irreps (``e3nn.o3.Irreps``, or ``None`` for fields that are not
irreps, such as integer indices):

* ``irreps_in``: every field available to the module (inputs from the data or from
  earlier modules) -> irreps;
* ``irreps_out``: ``irreps_in`` updated with the fields the module writes.

:class:`SequentialGraphNetwork` chains modules and checks each one's inputs against
what came before; :class:`GraphModel` wraps a complete model with its metadata
(type names, cutoff, dtype) and the dtype rules of the data boundary.

Example:
    >>> import torch
    >>> from nequip.data import keys
    >>> class Double(GraphModuleMixin, torch.nn.Module):
    ...     def __init__(self, irreps_in=None):
    ...         super().__init__()
    ...         self._init_irreps(irreps_in=irreps_in, my_irreps_in={keys.POSITIONS_KEY: "1o"},
    ...                           irreps_out={keys.NODE_FEATURES_KEY: "1o"})
    ...     def forward(self, data):
    ...         data[keys.NODE_FEATURES_KEY] = 2 * data[keys.POSITIONS_KEY]
    ...         return data
    >>> seq = SequentialGraphNetwork({"twice": Double()})
    >>> str(seq.irreps_out[keys.NODE_FEATURES_KEY])
    '1x1o'
"""

from collections import OrderedDict
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from e3nn import o3

from nequip.data import AtomicDataDict, keys
from nequip.data.neighborlist import edge_pair_order, permute_edges_, restore_edge_order_

from .build_scope import MODEL_DTYPES

IrrepsDict = Dict[str, Optional[o3.Irreps]]

# Fields every graph module may read, with their fixed irreps.
_ALWAYS_PRESENT: Dict[str, Optional[str]] = {
    keys.POSITIONS_KEY: "1o",
    keys.EDGE_INDEX_KEY: None,
    keys.ATOM_TYPE_KEY: None,
}

# Fields a GraphModel passes to its model (besides declared extra inputs).
_MODEL_INPUT_FIELDS: Dict[str, Optional[str]] = {
    keys.POSITIONS_KEY: "1o",
    keys.EDGE_INDEX_KEY: None,
    keys.EDGE_CELL_SHIFT_KEY: None,
    keys.CELL_KEY: "1o",
    keys.PBC_KEY: None,
    keys.BATCH_KEY: None,
    keys.NUM_NODES_KEY: None,
    keys.ATOM_TYPE_KEY: None,
}

# Outputs a GraphModel always returns in float64, whatever the model dtype.
FLOAT64_OUTPUT_FIELDS = (
    keys.TOTAL_ENERGY_KEY,
    keys.PER_ATOM_ENERGY_KEY,
    keys.FORCE_KEY,
    keys.STRESS_KEY,
    keys.VIRIAL_KEY,
)


def as_irreps_dict(irreps: Optional[Mapping[str, Any]], argument: str = "irreps") -> IrrepsDict:
    """Normalize a ``{field: irreps}`` mapping: strings become ``o3.Irreps``, ``None`` stays.

    Args:
        irreps: mapping of field name to anything ``o3.Irreps`` accepts, or ``None``.
        argument: name used in error messages.

    Raises:
        ValueError: if a value cannot be parsed as irreps.
    """
    out: IrrepsDict = {}
    for field, value in (irreps or {}).items():
        if value is None:
            out[field] = None
            continue
        try:
            out[field] = o3.Irreps(value)
        except (ValueError, TypeError, AssertionError) as err:
            raise ValueError(
                f"{argument}[{field!r}] = {value!r} is not a valid irreps (e.g. '8x0e+4x1o') or None"
            ) from err
    return out


def _describe(module: Any) -> str:
    return type(module).__name__


class GraphModuleMixin:
    """Mixin for ``torch.nn.Module`` s acting on ``AtomicDataDict`` graphs.

    Subclasses call :meth:`_init_irreps` in ``__init__`` (after ``torch.nn.Module.__init__``)
    to declare and check the fields they use. After that, ``self.irreps_in`` and
    ``self.irreps_out`` are ``dict[str, o3.Irreps | None]``.

    Attributes:
        pair_ordered_edges: the module needs its edges in pair order (edge ``e + E/2`` the
            reverse of edge ``e``, see :func:`nequip.data.neighborlist.edge_pair_order`).
            ``False`` on this base class; a module that can use pair order takes it as a
            constructor argument and sets it in ``__init__`` (e.g.
            :class:`~nequip.nn.interaction.InteractionBlock`). Containers read it through
            :func:`needs_pair_ordered_edges`, and :class:`GraphModel` brings the edges into
            pair order for a model that needs it.
    """

    irreps_in: IrrepsDict
    irreps_out: IrrepsDict
    pair_ordered_edges: bool = False

    def _init_irreps(
        self,
        irreps_in: Optional[Mapping[str, Any]] = None,
        my_irreps_in: Optional[Mapping[str, Any]] = None,
        required_irreps_in: Optional[Sequence[str]] = None,
        irreps_out: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Declare and check the fields this module reads and writes.

        Args:
            irreps_in: all fields available to this module (from the data or earlier
                modules) -> irreps. Positions (``1o``), edge index and atom types (``None``)
                are always added.
            my_irreps_in: fields this module reads with the irreps it needs; each one
                present in ``irreps_in`` must have exactly these irreps.
            required_irreps_in: fields that must be in ``irreps_in`` (any irreps).
            irreps_out: fields this module writes -> irreps. ``self.irreps_out`` is
                ``irreps_in`` updated with these.

        Raises:
            ValueError: naming the field, the module, the irreps given and the irreps needed.
        """
        irreps_in = as_irreps_dict(irreps_in, "irreps_in")
        for field, fixed in as_irreps_dict(_ALWAYS_PRESENT).items():
            if field in irreps_in and irreps_in[field] != fixed:
                raise ValueError(
                    f"{_describe(self)}: field {field!r} must have irreps {fixed}, "
                    f"but irreps_in gives {irreps_in[field]}"
                )
            irreps_in[field] = fixed
        my_irreps_in = as_irreps_dict(my_irreps_in, "my_irreps_in")
        for field, needed in my_irreps_in.items():
            if field in irreps_in and irreps_in[field] != needed:
                raise ValueError(
                    f"{_describe(self)}: input field {field!r} has irreps {irreps_in[field]}, "
                    f"but this module needs {needed}"
                )
        missing = [field for field in (required_irreps_in or ()) if field not in irreps_in]
        if missing:
            raise ValueError(
                f"{_describe(self)} requires fields {missing} in irreps_in; available are {sorted(irreps_in)}"
            )
        self.irreps_in = irreps_in
        self.irreps_out = dict(irreps_in)
        self.irreps_out.update(as_irreps_dict(irreps_out, "irreps_out"))

    def _get_metadata_contributions(self) -> Dict[str, str]:
        """Metadata this module adds to its :class:`GraphModel` (override; strings only)."""
        return {}


def needs_pair_ordered_edges(module: torch.nn.Module) -> bool:
    """Whether some graph module in ``module`` (itself included) needs its edges in pair
    order (:attr:`GraphModuleMixin.pair_ordered_edges`)."""
    return any(isinstance(m, GraphModuleMixin) and m.pair_ordered_edges for m in module.modules())


def check_irreps_compatible(
    produced: IrrepsDict, consumer: "GraphModuleMixin", producer_name: str, consumer_name: str
) -> None:
    """Raise ``ValueError`` if ``consumer`` expects a field with other irreps than ``produced``."""
    for field, needed in consumer.irreps_in.items():
        if field in produced and produced[field] != needed:
            raise ValueError(
                f"module {consumer_name!r} ({_describe(consumer)}) expects field {field!r} with "
                f"irreps {needed}, but after {producer_name!r} it has irreps {produced[field]}"
            )


class SequentialGraphNetwork(GraphModuleMixin, torch.nn.Sequential):
    """Graph modules applied one after the other.

    Each module's ``irreps_in`` is checked against the fields available before it: a
    field with other irreps is an error. A field no earlier module writes becomes an
    input of the whole network (``self.irreps_in``), to be supplied by the data.

    Args:
        modules: graph modules, as a dict ``name -> module`` or a list (named
            ``module0``, ``module1``, ...).
    """

    def __init__(self, modules: Union[Sequence[GraphModuleMixin], Mapping[str, GraphModuleMixin]]):
        if isinstance(modules, Mapping):
            named = OrderedDict(modules)
        else:
            named = OrderedDict((f"module{i}", m) for i, m in enumerate(modules))
        if len(named) == 0:
            raise ValueError("SequentialGraphNetwork needs at least one module, got none")
        for name, module in named.items():
            if not isinstance(module, GraphModuleMixin):
                raise ValueError(f"module {name!r} is a {type(module).__name__}, not a GraphModuleMixin")
        network_in: IrrepsDict = {}
        available: IrrepsDict = {}
        previous = "the network inputs"
        for name, module in named.items():
            check_irreps_compatible(available, module, previous, name)
            for field, irreps in module.irreps_in.items():
                if field not in available:
                    network_in[field] = irreps
                    available[field] = irreps
            available.update(module.irreps_out)
            previous = name
        super().__init__(named)
        self._init_irreps(irreps_in=network_in, irreps_out=available)

    def append(self, name: str, module: GraphModuleMixin) -> None:
        """Add ``module`` at the end, checking its inputs against the current outputs."""
        check_irreps_compatible(self.irreps_out, module, list(self._modules)[-1], name)
        for field, irreps in module.irreps_in.items():
            if field not in self.irreps_out:
                self.irreps_in[field] = irreps
                self.irreps_out[field] = irreps
        self.add_module(name, module)
        self.irreps_out.update(module.irreps_out)

    def insert(
        self, name: str, module: GraphModuleMixin, after: Optional[str] = None, before: Optional[str] = None
    ) -> None:
        """Add ``module`` right after the module ``after`` or right before the module ``before``
        (give exactly one), checking the fields of the whole chain again.

        Raises:
            ValueError: for both or neither of ``after`` and ``before``, an unknown one, a
                ``name`` already in use, or fields with other irreps than the chain provides.
        """
        if (after is None) == (before is None):
            raise ValueError(f"insert: give exactly one of after, before; got after={after!r}, before={before!r}")
        names = list(self._modules)
        anchor = after if after is not None else before
        if anchor not in names:
            raise ValueError(f"insert: no module named {anchor!r}; the modules are {names}")
        if name in names:
            raise ValueError(f"insert: a module named {name!r} exists already")
        items = list(self._modules.items())
        items.insert(names.index(anchor) + (1 if after is not None else 0), (name, module))
        checked = SequentialGraphNetwork(OrderedDict(items))
        self._modules.clear()
        self._modules.update(checked._modules)
        self.irreps_in, self.irreps_out = checked.irreps_in, checked.irreps_out

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        for module in self:
            data = module(data)
        return data


class GraphModel(GraphModuleMixin, torch.nn.Module):
    """Top-level wrapper of a complete model, with its metadata and dtype rules.

    ``forward`` copies only the model's input fields out of the given dict (so the model
    never writes into the caller's dict), casts positions and cell to float64, brings the
    edges into pair order when a submodule needs it (:func:`needs_pair_ordered_edges`, e.g.
    an ``InteractionBlock`` computing its radial network once per pair; see
    :func:`nequip.data.neighborlist.edge_pair_order`), runs the model
    (:meth:`forward_prepared`), and returns energies, forces, stress and virial as float64.
    Per-edge fields come back in the caller's edge order. A ``GraphModel`` itself takes
    edges in any order (its :attr:`pair_ordered_edges` is ``False``); whether it reorders
    them is :attr:`orders_edges_in_pairs`. Geometry (edge vectors, lengths, spherical harmonics,
    radial basis) is always computed in float64
    from float64 positions and cast to ``model_dtype`` by the embedding layers, as in
    upstream NequIP: rounding the positions to float32 first would lose precision in large
    periodic cells, and forces come out of autograd in float64 directly.

    Args:
        model: the wrapped graph module (e.g. a ``ForceStressOutput``).
        type_names: atom type names, in type-index order.
        r_max: the cutoff radius (length units of the data); the neighbor list must use it.
        model_dtype: ``"float32"`` or ``"float64"`` (or the torch dtype), the dtype of the
            weights; every floating parameter of ``model`` must have it, except float64
            ones (per-type energy scales/shifts and Bessel frequencies act on float64).
        per_edge_type_cutoff: optional full table ``{center: {neighbor: cutoff}}``.
        model_input_fields: extra data fields the model reads -> irreps.
        metadata: extra plain-data metadata (``str -> str``) kept for export/checkpoints.

    Raises:
        ValueError: for an unknown dtype, parameters of another dtype, empty
            ``type_names``, non-positive ``r_max``, or model inputs that are not input fields.
    """

    def __init__(
        self,
        model: GraphModuleMixin,
        type_names: Sequence[str],
        r_max: float,
        model_dtype: Union[str, torch.dtype] = "float64",
        per_edge_type_cutoff: Optional[Dict[str, Dict[str, float]]] = None,
        model_input_fields: Optional[Mapping[str, Any]] = None,
        metadata: Optional[Mapping[str, str]] = None,
    ):
        super().__init__()
        if isinstance(model_dtype, torch.dtype):
            names = {v: k for k, v in MODEL_DTYPES.items()}
            if model_dtype not in names:
                raise ValueError(f"model_dtype={model_dtype} is not allowed; allowed are {list(MODEL_DTYPES)}")
            model_dtype = names[model_dtype]
        if model_dtype not in MODEL_DTYPES:
            raise ValueError(f"model_dtype={model_dtype!r} is not allowed; allowed are {list(MODEL_DTYPES)}")
        type_names = [str(t) for t in type_names]
        if len(type_names) == 0:
            raise ValueError("type_names must name at least one atom type, got an empty list")
        if not float(r_max) > 0:
            raise ValueError(f"r_max must be positive, got {r_max!r}")
        for name, param in model.named_parameters():
            if param.is_floating_point() and param.dtype not in (MODEL_DTYPES[model_dtype], torch.float64):
                raise ValueError(
                    f"parameter {name!r} has dtype {param.dtype}, but model_dtype={model_dtype!r}; "
                    "build the model under torch.set_default_dtype or call .to(dtype)"
                )

        irreps_in = dict(_MODEL_INPUT_FIELDS)
        irreps_in.update(model_input_fields or {})
        self._init_irreps(irreps_in=irreps_in, irreps_out=model.irreps_out)
        for field, irreps in model.irreps_in.items():
            if field not in self.irreps_in or self.irreps_in[field] != irreps:
                raise ValueError(
                    f"the model reads field {field!r} with irreps {irreps}, but the GraphModel input "
                    f"fields give {self.irreps_in.get(field, 'nothing')}; declare it in model_input_fields"
                )
        self.model = model
        self.model_input_fields: List[str] = list(self.irreps_in)
        self._orders_edges_in_pairs: bool = needs_pair_ordered_edges(model)
        self.type_names: List[str] = type_names
        self.r_max: float = float(r_max)
        self.model_dtype: torch.dtype = MODEL_DTYPES[model_dtype]
        self.per_edge_type_cutoff = per_edge_type_cutoff
        self._metadata: Dict[str, str] = {
            "model_dtype": model_dtype,
            "type_names": " ".join(type_names),
            "num_types": str(len(type_names)),
            "r_max": str(self.r_max),
        }
        if per_edge_type_cutoff is not None:
            self._metadata["per_edge_type_cutoff"] = " ".join(
                str(float(per_edge_type_cutoff[a][b])) for a in type_names for b in type_names
            )
        self._metadata.update(metadata or {})

    @property
    def orders_edges_in_pairs(self) -> bool:
        """Whether the wrapped model needs its edges in pair order, so that
        :meth:`prepare_inputs` brings them into it (fixed when the model is built)."""
        return self._orders_edges_in_pairs

    @property
    def metadata(self) -> Dict[str, str]:
        """Plain ``str -> str`` metadata: ``model_dtype``, ``type_names`` (space separated),
        ``num_types``, ``r_max``, optionally ``per_edge_type_cutoff`` (row-major, space
        separated), plus what submodules contribute via ``_get_metadata_contributions``."""
        out = dict(self._metadata)
        source: Dict[str, str] = {}
        for name, module in self.model.named_modules():
            if isinstance(module, GraphModuleMixin):
                contributions = module._get_metadata_contributions()
                for key in contributions:
                    if key in source:
                        raise ValueError(f"metadata key {key!r} is contributed by both {source[key]!r} and {name!r}")
                    source[key] = name
                out.update(contributions)
        return out

    def prepare_inputs(self, data: AtomicDataDict.Type) -> Tuple[AtomicDataDict.Type, Optional[torch.Tensor]]:
        """The model's input fields of ``data`` as a new dict, positions and cell in float64,
        edges in pair order if the model needs it; and the edge permutation applied (``None``: none).

        Raises:
            ValueError: if the model needs pair order and the edges are not a full list.
        """
        inputs: AtomicDataDict.Type = {}
        for field in self.model_input_fields:
            if field in data:
                inputs[field] = data[field]
        for field in (keys.POSITIONS_KEY, keys.CELL_KEY):
            if field in inputs and inputs[field].dtype != torch.float64:
                inputs[field] = inputs[field].to(torch.float64)
        order = None
        if self._orders_edges_in_pairs and keys.EDGE_INDEX_KEY in inputs:
            order = edge_pair_order(inputs[keys.EDGE_INDEX_KEY], inputs.get(keys.EDGE_CELL_SHIFT_KEY))
            if order is not None:
                permute_edges_(inputs, order)
        return inputs, order

    def forward_prepared(self, inputs: AtomicDataDict.Type) -> AtomicDataDict.Type:
        """Run the model on ``inputs`` prepared as :meth:`prepare_inputs` does (a dict of the
        input fields that the model may change, positions and cell in float64, edges in pair
        order if :attr:`orders_edges_in_pairs`); energies, forces, stress and virial come
        back as float64."""
        out = self.model(inputs)
        for field in FLOAT64_OUTPUT_FIELDS:
            if field in out and out[field].dtype != torch.float64:
                out[field] = out[field].to(torch.float64)
        return out

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        inputs, order = self.prepare_inputs(data)
        out = self.forward_prepared(inputs)
        if order is not None:
            restore_edge_order_(out, data, order)
        return out
