r"""The LAMMPS export of a model: the graph that ``pair_style nequip`` runs, as an AOTInductor package.

The exported graph (:class:`LocalEnergyGraph`) takes a graph of atoms and edges with explicit
edge vectors:

* ``edge_vectors`` (E, 3) float64, :math:`r_{ij}` from the center i to the neighbor j;
* ``edge_index`` (2, E) int64, a full neighbor list (both directions of every pair), in pair
  order (edge ``e + E/2`` the reverse of edge ``e``) when the model needs it;
* ``atom_types`` (N,) int64, model type indices, local atoms first;
* ``num_local`` (1,) int64, how many of the atoms are local,

and returns, in float64 and the model's units,

* ``total_energy`` (1, 1): :math:`E = \sum_{i < n_\mathrm{local}} E_i`, the energy of the local atoms only;
* ``atomic_energy`` (N, 1): :math:`E_i` (meaningful for local atoms);
* ``edge_energy_gradient`` (E, 3): :math:`g_e = \partial E / \partial r_{ij}` for every edge,
  from one backward pass to the edge vectors (the energy model is given them and computes no
  others, so it sees positions only through them).

The plugin sums the forces and virials from the edge gradients (:func:`forces_and_virials` is
the same sum in Python, for checks), each only when LAMMPS asks for it:

* forces :math:`F_k = \sum_{e: i_e = k} g_e - \sum_{e: j_e = k} g_e`, i.e. :math:`-\partial E / \partial r_k`;
* the virial :math:`W = -\sum_e r_{ij} \otimes g_e` (symmetrized), equal to
  :math:`-\partial E / \partial \varepsilon` for a strain of every position;
* the per-atom virial: each edge's term split half and half between its two atoms.

The plugin builds the graph in one of two ways:

* one MPI rank: the atoms are the local atoms, each ghost atom (a periodic image) stands for
  the local atom it is an image of, and its edge keeps the image's vector: the periodic graph
  of the whole system, as the ASE calculator builds it, with no extra atoms;
* several ranks: the atoms are the local *and* ghost atoms, ghosts up to ``num_layers * r_max``
  away (one hop of at most ``r_max`` per message-passing layer reaches that far); the energy is
  that of the local atoms, and the forces on ghosts go back to their owners.

:func:`export_lammps_model` traces the graph with its autograd into flat aten operations
(``make_fx``, symbolic atom and edge counts), compiles it with AOTInductor for the CPU, loads
it back and checks both constructions on periodic frames against the eager model: the energy
of the local atoms, their per-atom energies, the forces with each ghost's force added to its
owner, and the virial must equal the periodic model's (relative deviation 1e-10 for float64
models, 1e-5 for float32). The ghosts are built by :func:`ghost_expanded_frame` exactly as
deep as the metadata says, so a wrong ``num_layers`` fails the export.
"""

import json
import math
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from nequip.data import AtomicDataDict, keys
from nequip.data.neighborlist import compute_neighborlist_
from nequip.model.export import (
    EXPORT_TOLERANCE,
    custom_operator_namespaces,
    example_frame,
    inductor_options,
    operator_library_error,
)
from nequip.model.torch_compile import max_relative_deviation
from nequip.nn.convnet import ConvNetLayer
from nequip.nn.force_stress import ForceStressOutput
from nequip.nn.graph_module import GraphModel, GraphModuleMixin, needs_pair_ordered_edges
from nequip.nn.kernels import traced_for_graph_compiler
from nequip.nn.pair_potential import ZBL

from .compile_target import (
    ATOMIC_VIRIAL,
    EDGE_ENERGY_GRADIENT,
    LAMMPS_INPUT_FIELDS,
    LAMMPS_OUTPUT_FIELDS,
    LAMMPS_TARGET,
    LAMMPS_UNITS,
    NUM_LOCAL,
)

LAMMPS_FORMAT = "nequip-lammps-model"
LAMMPS_FORMAT_VERSION = 2
#: key of the JSON metadata inside the AOTInductor package (read by the plugin), that of every
#: nequip-compile file: its ``"target"`` tells the files of the targets apart
METADATA_KEY = "nequip_metadata.json"
#: the command that writes a LAMMPS export
COMPILE_COMMAND = "nequip-compile --mode aotinductor --target lammps --units metal|real CHECKPOINT OUTPUT"


def energy_model_of(model: GraphModel) -> GraphModuleMixin:
    """The energy model inside ``model`` (what its ``ForceStressOutput`` differentiates).

    Raises:
        ValueError: if ``model`` is not a ``GraphModel`` around a ``ForceStressOutput`` (every
            builder of nequip.model makes one, also for energy-only models).
    """
    if not isinstance(model, GraphModel) or not isinstance(model.model, ForceStressOutput):
        inner = type(model.model).__name__ if isinstance(model, GraphModel) else None
        raise ValueError(
            f"model must be a GraphModel around a ForceStressOutput (as the nequip.model builders make), got a "
            f"{type(model).__name__}" + (f" around a {inner}" if inner else "")
        )
    return model.model.func


def message_passing_layers(model: GraphModel) -> int:
    """Number of message-passing layers of ``model``: its ``ConvNetLayer`` modules.

    Raises:
        ValueError: if it has none (a model of other layers: give ``num_layers`` explicitly).
    """
    count = sum(isinstance(module, ConvNetLayer) for module in model.modules())
    if count == 0:
        raise ValueError(
            "the model has no ConvNetLayer, so its number of message-passing layers is unknown; give num_layers "
            "(--num-layers): a local atom's energy must depend only on atoms within num_layers * r_max"
        )
    return count


def model_units(model: GraphModel, units: Optional[str]) -> str:
    """The LAMMPS unit style of ``model``: ``units``, or the units of its ZBL term if it has one.

    Raises:
        ValueError: for units other than :data:`LAMMPS_UNITS`, units that contradict the ZBL
            term's, or none given for a model without ZBL.
    """
    zbl_units = sorted({module.units for module in model.modules() if isinstance(module, ZBL)})
    if units is None:
        if not zbl_units:
            raise ValueError(
                f"units are required (the LAMMPS unit style of the training data), allowed are {list(LAMMPS_UNITS)}"
            )
        units = zbl_units[0]
    if units not in LAMMPS_UNITS:
        raise ValueError(f"units={units!r} is not allowed; allowed are {list(LAMMPS_UNITS)}")
    if zbl_units and zbl_units != [units]:
        raise ValueError(f"units={units!r} contradicts the model's ZBL term, which is in units {zbl_units}")
    return units


class LocalEnergyGraph(torch.nn.Module):
    """The graph ``pair_style nequip`` evaluates (inputs and outputs in the module docstring).

    Args:
        energy_model: a graph module writing ``atomic_energy`` from positions, edges (given
            their edge vectors) and atom types, e.g. :func:`energy_model_of` of a model.
    """

    def __init__(self, energy_model: GraphModuleMixin):
        super().__init__()
        if keys.PER_ATOM_ENERGY_KEY not in energy_model.irreps_out:
            raise ValueError(
                f"the energy model must write {keys.PER_ATOM_ENERGY_KEY!r}; it writes {sorted(energy_model.irreps_out)}"
            )
        self.energy_model = energy_model

    def forward(
        self, edge_vectors: torch.Tensor, edge_index: torch.Tensor, atom_types: torch.Tensor, num_local: torch.Tensor
    ) -> List[torch.Tensor]:
        num_atoms = atom_types.shape[0]
        positions = torch.zeros(num_atoms, 3, dtype=edge_vectors.dtype, device=edge_vectors.device)
        with torch.enable_grad():
            vectors = edge_vectors.detach().requires_grad_(True)
            data = {
                keys.POSITIONS_KEY: positions,  # not read for geometry: the edge vectors are given
                keys.EDGE_INDEX_KEY: edge_index,
                keys.EDGE_VECTORS_KEY: vectors,
                keys.ATOM_TYPE_KEY: atom_types,
                keys.BATCH_KEY: torch.zeros_like(atom_types),
                keys.NUM_NODES_KEY: num_local.new_full((1,), num_atoms),
            }
            atomic_energy = self.energy_model(data)[keys.PER_ATOM_ENERGY_KEY].to(torch.float64).reshape(-1)
            is_local = torch.arange(num_atoms, device=atom_types.device) < num_local
            energy = torch.where(is_local, atomic_energy, torch.zeros_like(atomic_energy)).sum()
            (de_dvectors,) = torch.autograd.grad([energy], [vectors], allow_unused=True)
        if de_dvectors is None:  # an energy that does not depend on the geometry
            de_dvectors = torch.zeros_like(vectors)
        return [energy.reshape(1, 1), atomic_energy.detach().reshape(-1, 1), de_dvectors.to(torch.float64)]


def forces_and_virials(inputs: Dict[str, torch.Tensor], outputs: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Forces (N, 3), virial (1, 3, 3) and per-atom virial (N, 3, 3) from the graph's edge
    gradients, as the plugin sums them (see the module docstring).

    Args:
        inputs: the graph's inputs (:data:`LAMMPS_INPUT_FIELDS` -> tensor).
        outputs: its outputs (:data:`LAMMPS_OUTPUT_FIELDS` -> tensor).
    """
    vectors, gradient = inputs[keys.EDGE_VECTORS_KEY], outputs[EDGE_ENERGY_GRADIENT]
    center, neighbor = inputs[keys.EDGE_INDEX_KEY]
    zeros = vectors.new_zeros(inputs[keys.ATOM_TYPE_KEY].shape[0], 3)
    # r_ij = r_j - r_i: dE/dr_j gains dE/dr_ij, dE/dr_i loses it; forces are -dE/dr
    forces = zeros.index_add(0, center, gradient).index_add(0, neighbor, -gradient)
    edge_virial = -vectors.unsqueeze(2) * gradient.unsqueeze(1)
    edge_virial = 0.5 * (edge_virial + edge_virial.transpose(1, 2))
    half = 0.5 * edge_virial
    atomic_virial = zeros.new_zeros(zeros.shape[0], 3, 3).index_add(0, center, half).index_add(0, neighbor, half)
    return {keys.FORCE_KEY: forces, keys.VIRIAL_KEY: edge_virial.sum(0).reshape(1, 3, 3), ATOMIC_VIRIAL: atomic_virial}


def _graph_inputs(data: AtomicDataDict.Type, num_local: int) -> Dict[str, torch.Tensor]:
    data = AtomicDataDict.with_edge_vectors_(dict(data), with_lengths=False)
    return {
        keys.EDGE_VECTORS_KEY: data[keys.EDGE_VECTORS_KEY].detach().to(torch.float64),
        keys.EDGE_INDEX_KEY: data[keys.EDGE_INDEX_KEY],
        keys.ATOM_TYPE_KEY: data[keys.ATOM_TYPE_KEY],
        NUM_LOCAL: torch.tensor([num_local]),
    }


def periodic_frame(
    data: AtomicDataDict.Type, r_max: float, per_edge_type_cutoff: Optional[torch.Tensor] = None
) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
    """One frame as the plugin presents it on one MPI rank: its atoms, every edge to a periodic
    image attached to the image's original with the image's edge vector.

    Returns:
        the graph's inputs (:data:`LAMMPS_INPUT_FIELDS` -> tensor) and ``owner``, the identity.
    """
    frame = {field: data[field] for field in (keys.POSITIONS_KEY, keys.ATOM_TYPE_KEY, keys.CELL_KEY, keys.PBC_KEY)}
    compute_neighborlist_(frame, r_max, per_edge_type_cutoff=per_edge_type_cutoff)
    num_atoms = frame[keys.POSITIONS_KEY].shape[0]
    return _graph_inputs(frame, num_atoms), torch.arange(num_atoms)


def ghost_expanded_frame(
    data: AtomicDataDict.Type,
    ghost_cutoff: float,
    r_max: float,
    per_edge_type_cutoff: Optional[torch.Tensor] = None,
) -> Tuple[Dict[str, torch.Tensor], torch.Tensor]:
    """One frame as the plugin presents it on several MPI ranks: its atoms, then every periodic
    image within ``ghost_cutoff`` of one of them as a ghost atom, with a non-periodic neighbor
    list over all of them.

    Args:
        data: one frame with ``pos``, ``atom_types`` and, if periodic, ``cell`` and ``pbc``.
        ghost_cutoff: images closer than this to some atom of the frame are kept (length).
        r_max: the model's cutoff for the neighbor list.
        per_edge_type_cutoff: optional (num_types, num_types) cutoff table.

    Returns:
        the graph's inputs (:data:`LAMMPS_INPUT_FIELDS` -> tensor), and ``owner`` (N_all,)
        int64: the frame atom each atom is an image of (the identity for the first ones).
    """
    pos = data[keys.POSITIONS_KEY].detach().to(torch.float64).cpu().numpy()
    types = data[keys.ATOM_TYPE_KEY].cpu().numpy()
    n = len(pos)
    cell = data[keys.CELL_KEY].reshape(3, 3).to(torch.float64).numpy() if keys.CELL_KEY in data else np.zeros((3, 3))
    pbc = data[keys.PBC_KEY].reshape(3).numpy() if keys.PBC_KEY in data else np.zeros(3, dtype=bool)
    reach = []
    for axis in range(3):
        if not pbc[axis]:
            reach.append(0)
            continue
        others = np.cross(cell[(axis + 1) % 3], cell[(axis + 2) % 3])
        height = abs(np.linalg.det(cell)) / np.linalg.norm(others)  # distance between lattice planes
        reach.append(int(math.ceil(ghost_cutoff / height)) + 1)
    all_pos, owners = [pos], [np.arange(n)]
    for shift in np.stack(np.meshgrid(*[np.arange(-r, r + 1) for r in reach], indexing="ij"), -1).reshape(-1, 3):
        if not shift.any():
            continue
        images = pos + shift @ cell
        nearest = np.sqrt(((images[:, None, :] - pos[None, :, :]) ** 2).sum(-1)).min(axis=1)
        keep = nearest < ghost_cutoff
        all_pos.append(images[keep])
        owners.append(np.arange(n)[keep])
    owner = torch.from_numpy(np.concatenate(owners))
    expanded = {
        keys.POSITIONS_KEY: torch.from_numpy(np.concatenate(all_pos)),
        keys.ATOM_TYPE_KEY: torch.from_numpy(types)[owner],
    }
    compute_neighborlist_(expanded, r_max, per_edge_type_cutoff=per_edge_type_cutoff)
    return _graph_inputs(expanded, n), owner


def _no_duck_shapes():
    """make_fx config: distinct symbols for equal sizes (torch has no public switch)."""
    from torch.fx.experimental import _config

    return _config.patch(use_duck_shape=False)


def _per_edge_type_table(model: GraphModel) -> Optional[torch.Tensor]:
    table = model.per_edge_type_cutoff
    if table is None:
        return None
    names = model.type_names
    return torch.tensor([[float(table[a][b]) for b in names] for a in names], dtype=torch.float64)


def lammps_metadata(
    model: GraphModel, units: str, num_layers: int, cpu_threads: int, pair_ordered_edges: bool
) -> Dict[str, Any]:
    """The JSON metadata of a LAMMPS export (plain data; read by the plugin)."""
    return {
        "format": LAMMPS_FORMAT,
        "format_version": LAMMPS_FORMAT_VERSION,
        "target": LAMMPS_TARGET,
        "mode": "aotinductor",
        "device": "cpu",
        "type_names": list(model.type_names),
        "r_max": float(model.r_max),
        "per_edge_type_cutoff": model.per_edge_type_cutoff,
        "num_layers": int(num_layers),
        "units": units,
        "model_dtype": str(model.model_dtype).replace("torch.", ""),
        "cpu_threads": int(cpu_threads),
        "pair_ordered_edges": bool(pair_ordered_edges),
        "custom_operators": [],  # set from the traced graph (custom_operator_namespaces)
        "input_fields": list(LAMMPS_INPUT_FIELDS),
        "output_fields": list(LAMMPS_OUTPUT_FIELDS),
        "torch_version": torch.__version__,
        "model_metadata": dict(model.metadata),
    }


def export_lammps_model(
    model: GraphModel,
    path: str,
    units: Optional[str] = None,
    num_layers: Optional[int] = None,
    cpu_threads: Optional[int] = None,
    validation_frames: Optional[Sequence[AtomicDataDict.Type]] = None,
) -> Dict[str, Any]:
    """Export ``model`` for ``pair_style nequip`` to ``path`` (an AOTInductor package); return its metadata.

    Args:
        model: a ``GraphModel`` (e.g. from :func:`~nequip.model.ModelFromCheckpoint`), copied.
        path: file to write, by convention ``*.nequip.lammps.pt2``.
        units: LAMMPS unit style of the model's data, ``"metal"`` (eV, Å) or ``"real"``
            (kcal/mol, Å); default: the units of the model's ZBL term (required without one).
        num_layers: message-passing layers (ghost atoms are needed ``num_layers * r_max``
            deep); default: :func:`message_passing_layers`.
        cpu_threads: threads the package's CPU kernels are generated for, the thread count
            per MPI rank of the simulations (default ``torch.get_num_threads()``).
        validation_frames: periodic frames (``pos``, ``atom_types``, ``cell``, ``pbc``) to
            check the package on; default: two :func:`~nequip.model.export.example_frame` s.

    Raises:
        ValueError: for a model that is not a ``GraphModel`` around a ``ForceStressOutput``,
            bad ``units``/``num_layers``/``cpu_threads``, or a package whose results on a
            validation frame deviate from the periodic eager model's beyond
            :data:`~nequip.model.export.EXPORT_TOLERANCE`.
    """
    import copy

    from torch.export import Dim
    from torch.fx.experimental.proxy_tensor import make_fx

    energy_model_of(model)  # checks the model's structure
    units = model_units(model, units)
    if num_layers is None:
        num_layers = message_passing_layers(model)
    elif isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"num_layers must be a positive integer, got {num_layers!r}")
    if cpu_threads is None:
        cpu_threads = torch.get_num_threads()
    elif isinstance(cpu_threads, bool) or not isinstance(cpu_threads, int) or cpu_threads < 1:
        raise ValueError(f"cpu_threads must be a positive integer, got {cpu_threads!r}")
    model = copy.deepcopy(model).to("cpu").eval()
    for param in model.parameters():
        param.requires_grad_(False)
    graph = LocalEnergyGraph(energy_model_of(model))
    pair_ordered_edges = needs_pair_ordered_edges(graph.energy_model)
    ghost_cutoff = num_layers * model.r_max
    cutoffs = _per_edge_type_table(model)
    if validation_frames is None:
        validation_frames = [example_frame(model.type_names, model.r_max, repeat, seed=repeat) for repeat in (3, 2)]
    expanded = [ghost_expanded_frame(frame, ghost_cutoff, model.r_max, cutoffs) for frame in validation_frames]
    expanded += [periodic_frame(frame, model.r_max, cutoffs) for frame in validation_frames]
    validation_frames = list(validation_frames) * 2
    example = [expanded[0][0][field] for field in LAMMPS_INPUT_FIELDS]

    # the graph itself first (cheap: a wrong num_layers stops here, before compiling)
    metadata = lammps_metadata(model, units, num_layers, cpu_threads, pair_ordered_edges)
    _validate(model, validation_frames, expanded, LammpsModel(graph, metadata), "eager graph", ghost_cutoff)
    # one scatter-sum per convolution where ATen sums in parallel (CPU kernels on several threads)
    with _no_duck_shapes(), traced_for_graph_compiler(model, one_scatter_sum=cpu_threads > 1):
        traced = make_fx(graph, tracing_mode="symbolic", _allow_non_fake_inputs=True)(*example)
    atoms = Dim("num_atoms", min=2)
    # pair order: an even number of edges (the traced graph splits them in halves)
    edges = 2 * Dim("num_edge_pairs", min=1) if pair_ordered_edges else Dim("num_edges", min=2)
    program = torch.export.export(traced, tuple(example), dynamic_shapes=({0: edges}, {1: edges}, {0: atoms}, None))
    metadata["custom_operators"] = custom_operator_namespaces(traced)
    configs = {
        **inductor_options("cpu"),
        "aot_inductor.metadata": {METADATA_KEY: json.dumps(metadata)},
        "cpp.threads": cpu_threads,
    }
    # torch documents AOTInductor's entry points under torch._inductor; there is no public alias
    torch._inductor.aoti_compile_and_package(program, package_path=path, inductor_configs=configs)
    _validate(model, validation_frames, expanded, load_lammps_model(path, warn_threads=False), "package", ghost_cutoff)
    return metadata


def _validate(
    model: GraphModel,
    frames: Sequence[AtomicDataDict.Type],
    expanded: Sequence[Tuple[Dict[str, torch.Tensor], torch.Tensor]],
    evaluate: Callable[[Dict[str, torch.Tensor]], Dict[str, torch.Tensor]],
    what: str,
    ghost_cutoff: float,
) -> None:
    tolerance = EXPORT_TOLERANCE[model.model_dtype]
    for index, (frame, (inputs, owner)) in enumerate(zip(frames, expanded)):
        deviations = compare_with_periodic_model(model, frame, evaluate(inputs), owner)
        for field, deviation in deviations.items():
            if not deviation <= tolerance:
                raise ValueError(
                    f"the LAMMPS {what}'s {field!r} differs from the periodic eager model's by {deviation:.2e} "
                    f"(relative) on validation frame {index} ({len(owner)} atoms with ghosts {ghost_cutoff} deep); "
                    f"the tolerance for {model.model_dtype} is {tolerance:.0e} (is num_layers too small?)"
                )


def compare_with_periodic_model(
    model: GraphModel, frame: AtomicDataDict.Type, outputs: Dict[str, torch.Tensor], owner: torch.Tensor
) -> Dict[str, float]:
    """Relative deviations of the LAMMPS graph's ``outputs`` on the ghost-expanded ``frame``
    (``owner`` from :func:`ghost_expanded_frame`) from ``model`` on the periodic ``frame``:
    energy, local per-atom energies, forces with ghost forces added to their owners, virial."""
    num_local = int(frame[keys.POSITIONS_KEY].shape[0])
    periodic = dict(frame)
    periodic.setdefault(keys.NUM_NODES_KEY, torch.tensor([num_local]))
    periodic.setdefault(keys.BATCH_KEY, torch.zeros(num_local, dtype=torch.long))
    if keys.EDGE_INDEX_KEY not in periodic:
        compute_neighborlist_(periodic, model.r_max, per_edge_type_cutoff=_per_edge_type_table(model))
    expected = model(periodic)
    folded = torch.zeros(num_local, 3, dtype=torch.float64).index_add(0, owner, outputs[keys.FORCE_KEY])
    return {
        keys.TOTAL_ENERGY_KEY: max_relative_deviation(
            outputs[keys.TOTAL_ENERGY_KEY].reshape(-1), expected[keys.TOTAL_ENERGY_KEY].reshape(-1)
        ),
        keys.PER_ATOM_ENERGY_KEY: max_relative_deviation(
            outputs[keys.PER_ATOM_ENERGY_KEY][:num_local], expected[keys.PER_ATOM_ENERGY_KEY]
        ),
        keys.FORCE_KEY: max_relative_deviation(folded, expected[keys.FORCE_KEY]),
        keys.VIRIAL_KEY: max_relative_deviation(
            outputs[keys.VIRIAL_KEY].reshape(3, 3), expected[keys.VIRIAL_KEY].reshape(3, 3)
        ),
    }


class LammpsModel:
    """The LAMMPS graph as a function of a dict, for checks and tests: the loaded package (what
    the plugin runs, :func:`load_lammps_model`) or the eager :class:`LocalEnergyGraph`.

    Call it with a dict of :data:`LAMMPS_INPUT_FIELDS` (e.g. from :func:`ghost_expanded_frame`);
    it returns a dict of :data:`LAMMPS_OUTPUT_FIELDS` and the forces and virials the plugin sums
    from them (:func:`forces_and_virials`). ``metadata`` is the JSON metadata.

    Args:
        runner: called with the inputs in the order of :data:`LAMMPS_INPUT_FIELDS`; returns
            the outputs in the order of :data:`LAMMPS_OUTPUT_FIELDS`.
        metadata: the export's metadata (:func:`lammps_metadata`).
    """

    def __init__(self, runner: Callable[..., List[torch.Tensor]], metadata: Dict[str, Any]):
        self._runner = runner
        self.metadata = metadata

    def __call__(self, inputs: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        outputs = dict(zip(LAMMPS_OUTPUT_FIELDS, self._runner(*[inputs[field] for field in LAMMPS_INPUT_FIELDS])))
        return {**outputs, **forces_and_virials(inputs, outputs)}


def load_lammps_model(path: str, warn_threads: bool = True) -> LammpsModel:
    """Load a file written by :func:`export_lammps_model`.

    Raises:
        ValueError: if ``path`` is not a nequip LAMMPS export.
    """
    from torch._inductor import aoti_load_package  # documented there, no public alias

    try:
        runner = aoti_load_package(path)
    except Exception as err:  # noqa: BLE001 - any other load failure means: not such a package
        library_error = operator_library_error(path, err)
        if library_error is not None:
            raise library_error from err
        first_line = (str(err).strip().splitlines() or [""])[0][:300]
        raise ValueError(f"path {path!r} is not an AOTInductor package ({type(err).__name__}: {first_line})") from err
    text = runner.get_metadata().get(METADATA_KEY)
    if not text:
        raise ValueError(f"path {path!r} has no nequip metadata; write it with {COMPILE_COMMAND}")
    metadata = json.loads(text)
    target = metadata.get("target", "ase")
    if target != LAMMPS_TARGET:
        raise ValueError(
            f"path {path!r} was compiled for target {target!r}; pair_style nequip reads target {LAMMPS_TARGET!r} "
            f"files (write one with {COMPILE_COMMAND})"
        )
    if metadata.get("format") != LAMMPS_FORMAT or metadata.get("format_version") != LAMMPS_FORMAT_VERSION:
        raise ValueError(
            f"path {path!r} has format {metadata.get('format')!r} version {metadata.get('format_version')!r}; "
            f"this version reads {LAMMPS_FORMAT!r} version {LAMMPS_FORMAT_VERSION}; write it again with {COMPILE_COMMAND}"
        )
    threads = metadata["cpu_threads"]
    if warn_threads and threads != torch.get_num_threads():
        warnings.warn(
            f"{path!r} was compiled for {threads} CPU thread(s) but this process runs torch with "
            f"{torch.get_num_threads()}; it runs slower than it can",
            stacklevel=2,
        )
    return LammpsModel(runner, metadata)
