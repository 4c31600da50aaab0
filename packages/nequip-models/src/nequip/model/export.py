"""Export a model to one deployable file (``nequip-compile``), and load it back.

The whole model, *including* its forces and stress (``torch.autograd.grad`` inside
``ForceStressOutput``), is first traced into one flat graph of aten operations with
``make_fx`` (symbolic shapes, weights as constants, CPU edge chunking off), as
:class:`~nequip.model.CompileGraphModel` does; that graph is exported with
``torch.export`` with a dynamic number of atoms and edges, and saved as either

* ``mode="export"``: the ``ExportedProgram`` (``torch.export.save``, a ``.pt2`` zip of a
  serialized graph and weights; portable, runs the graph op by op in Python), or
* ``mode="aotinductor"``: an AOTInductor package (``torch._inductor.aoti_compile_and_package``:
  the graph compiled to C++/CUDA code for one device; fastest, takes a minute or more to
  compile and needs a C++ compiler when exporting).

Both carry the JSON metadata of :func:`exported_metadata` (type names, r_max, dtype,
per-edge-type cutoffs, input and output fields) and load with :func:`load_exported_model`,
which needs only torch: no pickled Python objects are read (``torch.export.load`` and
AOTInductor packages store graphs, code and raw weights). On the CPU, where ``nequip-kernels``
is installed, the graph calls its fused convolution (operators ``nequip_kernels::*``, listed
under ``custom_operators`` in the metadata): such a file loads where that package is
installed too, and elsewhere fails with an error that says so (:func:`operator_library_error`).

The CPU kernels of an AOTInductor package are generated for a fixed number of threads
(``cpu_threads``, by default the exporting process's ``torch.get_num_threads()``),
recorded in the metadata; loading it in a process with another thread count warns. Export
for the thread count of the simulations: a package compiled for more threads than the
process runs still starts that many threads in every kernel and costs much more CPU time
per step, and inductor's thread-count-independent kernels (``cpp.dynamic_threads``) are
about as slow (figures in ``docs/benchmarks.md``).

What the exported graph takes and returns is set by a *compile target*
(:mod:`nequip.scripts._compile_utils`, ``nequip-compile --target``): the default ``ase``
(:data:`EXPORT_INPUT_FIELDS` in, energies, forces, stress and virial out) is what
``NequIPCalculator`` runs; extension packages register others (``pair_allegro``; ``lammps``
of ``nequip-lammps``, whose target brings its own export function). The target's name is
recorded in the metadata (``"target"``), and :func:`load_exported_model` loads ``ase``
files only (:func:`read_exported_metadata` reads any file's metadata).

One exported model of the ``ase`` target evaluates one frame per call (``num_atoms`` of shape (1,), as in
molecular dynamics), with any number (>= 2) of atoms and edges, periodic or not. A model
that computes its radial networks once per pair of edges (``GraphModel.orders_edges_in_pairs``,
recorded as ``pair_ordered_edges`` in the metadata) is exported for edges in pair order;
the loaded model brings any full neighbor list into it before calling the graph, as
``GraphModel`` does.

TorchScript is not offered: ``torch.jit`` is deprecated in the installed PyTorch (2.10+,
as upstream NequIP notes when it refuses ``--mode torchscript``), and scripting the
e3nn/autograd force computation would need a separate code path; ``torch.export`` and
AOTInductor are its replacements.
"""

import copy
import json
import warnings
import zipfile
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Union

import numpy as np
import torch

from nequip.data import AtomicDataDict, keys
from nequip.data.fields import get_field_type
from nequip.data.neighborlist import edge_pair_order, permute_edges_
from nequip.data.transforms import NeighborListTransform
from nequip.nn.graph_module import FLOAT64_OUTPUT_FIELDS, GraphModel
from nequip.nn.kernels import HAS_FUSED_KERNELS, traced_for_graph_compiler
from nequip.scripts._compile_utils import ASE_INPUTS, ASE_TARGET, compile_target, compile_target_names

from .torch_compile import _no_duck_shapes, max_relative_deviation

#: ``mode`` values of :func:`export_model` (and ``nequip-compile --mode``).
EXPORT_MODES = ("aotinductor", "export")
#: Input fields of an exported model of the ``ase`` target, in the order of its positional arguments.
EXPORT_INPUT_FIELDS = tuple(ASE_INPUTS)
EXPORT_FORMAT = "nequip-exported-model"
EXPORT_FORMAT_VERSION = 1
_METADATA_FILE = "nequip_metadata.json"
#: Largest allowed relative deviation (max |exported - eager| / max |eager|) per model dtype.
EXPORT_TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


def example_frame(type_names: Sequence[str], r_max: float, repeat: int = 3, seed: int = 0) -> AtomicDataDict.Type:
    """A periodic frame for tracing and checking an export: a jittered simple cubic lattice.

    ``repeat**3`` atoms, spacing ``r_max / 2`` (about 26 neighbors each), types assigned
    in turn, positions jittered by 5% of the spacing (``seed``). Neighbor list included.
    """
    rng = np.random.default_rng(seed)
    spacing = float(r_max) / 2
    grid = np.stack(np.meshgrid(*[np.arange(repeat)] * 3, indexing="ij"), -1).reshape(-1, 3)
    pos = (grid + 0.05 * rng.standard_normal(grid.shape)) * spacing
    n = len(pos)
    data = {
        keys.POSITIONS_KEY: torch.from_numpy(pos),
        keys.CELL_KEY: torch.eye(3, dtype=torch.float64).mul(repeat * spacing).unsqueeze(0),
        keys.PBC_KEY: torch.ones(1, 3, dtype=torch.bool),
        keys.ATOM_TYPE_KEY: torch.arange(n) % len(type_names),
        keys.NUM_NODES_KEY: torch.tensor([n]),
        keys.BATCH_KEY: torch.zeros(n, dtype=torch.long),
    }
    return NeighborListTransform(r_max)(data)


def exported_metadata(
    model: GraphModel,
    mode: str,
    output_fields: Sequence[str],
    device: torch.device,
    cpu_threads: Optional[int] = None,
    pair_ordered_edges: bool = False,
    target: str = ASE_TARGET,
    input_fields: Sequence[str] = EXPORT_INPUT_FIELDS,
    custom_operators: Sequence[str] = (),
) -> Dict[str, Any]:
    """The JSON metadata stored with an exported model (plain data); ``cpu_threads``: the
    thread count of an AOTInductor package's CPU kernels (``None`` otherwise);
    ``pair_ordered_edges``: the exported graph takes its edges in pair order (the loader
    brings them into it); ``target``: the compile target, whose ``input_fields`` the graph takes;
    ``custom_operators``: the graph's operator namespaces beyond torch's
    (:func:`custom_operator_namespaces`)."""
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "target": target,
        "mode": mode,
        "device": device.type,
        "type_names": list(model.type_names),
        "r_max": float(model.r_max),
        "model_dtype": str(model.model_dtype).replace("torch.", ""),
        "per_edge_type_cutoff": model.per_edge_type_cutoff,
        "input_fields": list(input_fields),
        "output_fields": list(output_fields),
        "num_frames": 1,
        "cpu_threads": cpu_threads,
        "pair_ordered_edges": bool(pair_ordered_edges),
        "custom_operators": list(custom_operators),
        "torch_version": torch.__version__,
        "model_metadata": dict(model.metadata),
    }


def _export_inputs(
    data: AtomicDataDict.Type,
    device: torch.device,
    pair_ordered_edges: bool,
    fields: Sequence[str] = EXPORT_INPUT_FIELDS,
) -> List[torch.Tensor]:
    data = AtomicDataDict.with_batch_(dict(data))
    missing = [field for field in fields if field not in data]
    if missing:
        raise ValueError(
            f"data lacks the fields {missing} that an exported model needs (compute the neighbor list first)"
        )
    if data[keys.NUM_NODES_KEY].shape[0] != 1:
        raise ValueError(
            f"an exported model evaluates one frame per call, got {data[keys.NUM_NODES_KEY].shape[0]} frames"
        )
    if pair_ordered_edges:  # outside the exported graph, as GraphModel.prepare_inputs does
        order = edge_pair_order(data[keys.EDGE_INDEX_KEY], data.get(keys.EDGE_CELL_SHIFT_KEY))
        if order is not None:
            permute_edges_(data, order)
    args = []
    for field in fields:
        value = data[field]
        if value.is_floating_point() and value.dtype != torch.float64:
            value = value.to(torch.float64)
        args.append(value.to(device))
    return args


def _dynamic_dims(field: str) -> Dict[int, str]:
    """The dynamic axes of an input field: ``{axis: "graph" | "node" | "edge"}`` by its registered kind."""
    kind = get_field_type(field)
    if kind == "edge":
        return {1 if field == keys.EDGE_INDEX_KEY else 0: "edge"}
    return {0: kind}


#: inductor options for exported model graphs (energy and forces) on the CPU. The per-edge
#: intermediates of the convolution (messages, their gradients) are read by several loops
#: (the scatter-sum of each path group, the gradients of the weights, harmonics and
#: features); by default inductor writes such a tensor to memory once and reads it back in
#: each loop, megabytes per layer that do not stay in cache. With these thresholds it
#: recomputes the few multiply-adds inside each loop instead: faster packages at every size
#: and thread count measured. Training graphs (``compile_mode: compile``) do not use them:
#: they were no faster per epoch, and compiled with more time and memory
#: (``docs/benchmarks.md``).
CPU_INDUCTOR_OPTIONS: Dict[str, Any] = {
    "realize_reads_threshold": 16,
    "realize_opusers_threshold": 50,
    "realize_cpu_opcount_threshold": 200,
    "realize_cpu_acc_reads_threshold": 50,
}


def inductor_options(device: Union[str, torch.device]) -> Dict[str, Any]:
    """Inductor options for an exported model graph compiled for ``device`` (:func:`export_model`,
    the LAMMPS export): :data:`CPU_INDUCTOR_OPTIONS` on the CPU, none elsewhere (GPUs have not
    been measured)."""
    return dict(CPU_INDUCTOR_OPTIONS) if torch.device(device).type == "cpu" else {}


def export_model(
    model: GraphModel,
    path: str,
    mode: str = "aotinductor",
    device: Union[str, torch.device] = "cpu",
    validation_frames: Optional[Sequence[AtomicDataDict.Type]] = None,
    inductor_configs: Optional[Dict[str, Any]] = None,
    cpu_threads: Optional[int] = None,
    target: str = ASE_TARGET,
    target_options: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """Export ``model`` (eval mode, its current weights) for ``target`` to ``path``; return the metadata written.

    Args:
        model: a ``GraphModel`` (e.g. from :func:`~nequip.model.ModelFromCheckpoint`);
            it is copied, not changed.
        path: file to write (a ``.pt2`` zip).
        mode: ``"aotinductor"`` (default, compiled) or ``"export"`` (see the module docstring).
        device: device the exported model runs on (``"cpu"``, ``"cuda"``).
        validation_frames: frames (with neighbor lists, one frame each) on which the saved
            file is loaded back and compared with the eager model; default: two
            :func:`example_frame` s of 27 and 64 atoms. The first one is also traced.
        inductor_configs: extra AOTInductor options (``mode="aotinductor"`` only), on top of
            :func:`inductor_options` (and taking precedence over them).
        cpu_threads: threads the CPU kernels of an AOTInductor package are generated for
            (default ``torch.get_num_threads()``; see the module docstring): the thread
            count of the simulations that will use it.
        target: a registered compile target (:func:`~nequip.scripts._compile_utils.compile_target_names`):
            the graph's input and output fields; default ``"ase"``.
        target_options: options of a target with its own export function (its ``options``),
            e.g. ``{"units": "metal"}`` for ``lammps``.

    Raises:
        ValueError: for an unknown mode or target, options the target does not take, a
            ``cpu_threads`` below 1, a model that is not a ``GraphModel``, reads inputs the
            target does not give or does not write its outputs, or an exported model
            whose outputs deviate from the eager model's by more than :data:`EXPORT_TOLERANCE`.
    """
    if mode not in EXPORT_MODES:
        raise ValueError(f"mode={mode!r} is not allowed; allowed are {list(EXPORT_MODES)}")
    if not isinstance(model, GraphModel):
        raise ValueError(f"model must be a GraphModel (e.g. from ModelFromCheckpoint), got a {type(model).__name__}")
    try:
        settings = compile_target(target)
    except KeyError:
        raise ValueError(
            f"target={target!r} is not a registered compile target; registered are {compile_target_names()} "
            "(installed extension packages register theirs when imported: nequip.model.extensions.load_extensions())"
        ) from None
    target_options = dict(target_options or {})
    unknown = sorted(set(target_options) - set(settings["options"]))
    if unknown:
        raise ValueError(f"target {target!r} takes no options {unknown}; its options are {sorted(settings['options'])}")
    device = torch.device(device)
    if cpu_threads is not None and (
        isinstance(cpu_threads, bool) or not isinstance(cpu_threads, int) or cpu_threads < 1
    ):
        raise ValueError(f"cpu_threads must be a positive integer, got {cpu_threads!r}")
    if "export" in settings:  # a target whose graph is not the model's forward pass
        metadata = settings["export"](
            model,
            path,
            mode=mode,
            device=device,
            cpu_threads=cpu_threads,
            validation_frames=validation_frames,
            inductor_configs=inductor_configs,
            **target_options,
        )
        if metadata.get("target") != target:
            raise ValueError(
                f"the export function of target {target!r} recorded target {metadata.get('target')!r} in the metadata"
            )
        return metadata
    return _export_forward(
        model, path, mode, device, validation_frames, inductor_configs, cpu_threads, target, settings
    )


def _export_forward(
    model: GraphModel,
    path: str,
    mode: str,
    device: torch.device,
    validation_frames: Optional[Sequence[AtomicDataDict.Type]],
    inductor_configs: Optional[Dict[str, Any]],
    cpu_threads: Optional[int],
    target: str,
    settings: Dict[str, Any],
) -> Dict[str, Any]:
    """:func:`export_model` of the model's forward pass on the input fields of ``target`` (its registered ``settings``)."""
    from torch.export import Dim
    from torch.fx.experimental.proxy_tensor import make_fx

    input_fields = settings["input"]
    # extra fields the model declares beyond the standard ones (those it does without: cell, batch, ...)
    extra = sorted(set(model.model_input_fields) - set(ASE_INPUTS) - {keys.PBC_KEY} - set(input_fields))
    if extra:
        raise ValueError(
            f"the model reads input fields {extra} that target {target!r} does not give; its inputs are {input_fields}"
        )
    if mode != "aotinductor" or device.type != "cpu":
        cpu_threads = None  # only AOTInductor's CPU kernels have a thread count
    elif cpu_threads is None:
        cpu_threads = torch.get_num_threads()
    model = copy.deepcopy(model).to(device).eval()
    for param in model.parameters():
        param.requires_grad_(False)
    # edges are brought into pair order outside the traced graph (by _export_inputs), which
    # calls the model's forward_prepared directly
    pair_ordered_edges = model.orders_edges_in_pairs
    if validation_frames is None:
        validation_frames = [example_frame(model.type_names, model.r_max, repeat) for repeat in (3, 4)]
    frames = [settings["data_settings"](dict(frame)) for frame in validation_frames]
    example = _export_inputs(frames[0], device, pair_ordered_edges, input_fields)

    def eager(*args: torch.Tensor) -> Dict[str, torch.Tensor]:
        return model.forward_prepared(dict(zip(input_fields, args)))

    written = eager(*example)
    missing = [field for field in settings["output"] if field not in written]
    if missing:
        raise ValueError(
            f"target {target!r} needs the outputs {missing}, which the model does not write "
            f"(it writes {sorted(f for f in written if f in FLOAT64_OUTPUT_FIELDS)})"
        )
    output_fields = list(settings["output"])

    def flat(*args: torch.Tensor) -> List[torch.Tensor]:
        out = eager(*args)
        return [out[field] for field in output_fields]

    # one scatter-sum per convolution where ATen sums in parallel (CPU kernels on several threads)
    one_scatter_sum = cpu_threads is not None and cpu_threads > 1
    with _no_duck_shapes(), traced_for_graph_compiler(model, one_scatter_sum):
        traced = make_fx(flat, tracing_mode="symbolic", _allow_non_fake_inputs=True)(*example)
    sizes = settings["batch_map_settings"](
        {
            "graph": Dim("num_frames", min=1),
            "node": Dim("num_atoms", min=2),
            "edge": Dim("num_edges", min=2),
        }
    )
    if pair_ordered_edges and sizes["edge"] is not Dim.STATIC:
        # pair order: an even number of edges (the traced graph splits them in halves)
        sizes["edge"] = 2 * Dim("num_edge_pairs", min=1)
    dynamic = []
    for field in input_fields:
        axes = {axis: sizes[kind] for axis, kind in _dynamic_dims(field).items() if sizes[kind] is not Dim.STATIC}
        dynamic.append(axes or None)
    program = torch.export.export(traced, tuple(example), dynamic_shapes=tuple(dynamic))

    metadata = exported_metadata(
        model,
        mode,
        output_fields,
        device,
        cpu_threads,
        pair_ordered_edges,
        target,
        input_fields,
        custom_operator_namespaces(traced),
    )
    text = json.dumps(metadata)
    if mode == "export":
        torch.export.save(program, path, extra_files={_METADATA_FILE: text})
    else:
        configs = {**inductor_options(device), **(inductor_configs or {})}
        configs["aot_inductor.metadata"] = {_METADATA_FILE: text}
        if cpu_threads is not None:
            configs["cpp.threads"] = cpu_threads
        # torch documents AOTInductor's entry points under torch._inductor; there is no public alias
        torch._inductor.aoti_compile_and_package(program, package_path=path, inductor_configs=configs)

    loaded = _load(path, device)
    tolerance = EXPORT_TOLERANCE[model.model_dtype]
    for index, frame in enumerate(frames):
        args = _export_inputs(frame, device, pair_ordered_edges, input_fields)
        expected, got = eager(*args), dict(zip(output_fields, loaded.function(*args)))
        for field in output_fields:
            deviation = max_relative_deviation(got[field], expected[field])
            if not deviation <= tolerance:
                raise ValueError(
                    f"the exported model's {field!r} differs from the eager model's by {deviation:.2e} (relative) on "
                    f"validation frame {index} ({args[0].shape[0]} atoms); the tolerance for {model.model_dtype} is {tolerance:.0e}"
                )
    return metadata


class ExportedModel:
    """A model loaded from a file written by :func:`export_model` (``nequip-compile``).

    Call it like a ``GraphModel`` on one frame with a neighbor list; it returns a dict of
    its output fields (float64). Attributes ``type_names``, ``r_max``, ``model_dtype``
    (``torch.dtype``), ``per_edge_type_cutoff``, ``device``, ``mode`` and ``metadata`` (the
    full JSON metadata) describe it.
    """

    training = False

    def __init__(self, function: Callable, metadata: Dict[str, Any], device: torch.device):
        self._function = function
        self.metadata = metadata
        self.device = device
        self.mode: str = metadata["mode"]
        self.type_names: List[str] = list(metadata["type_names"])
        self.r_max: float = float(metadata["r_max"])
        self.model_dtype: torch.dtype = getattr(torch, metadata["model_dtype"])
        self.per_edge_type_cutoff: Optional[Dict[str, Dict[str, float]]] = metadata["per_edge_type_cutoff"]
        self.input_fields: List[str] = list(metadata["input_fields"])
        self.output_fields: List[str] = list(metadata["output_fields"])
        self.pair_ordered_edges: bool = bool(metadata.get("pair_ordered_edges", False))

    def __call__(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        """Evaluate one frame; ``data`` needs the neighbor list and ``atom_types``.

        Raises:
            ValueError: for several frames, or fewer than 2 atoms or 2 edges (the exported
                graph's dynamic sizes start at 2).
        """
        args = _export_inputs(data, self.device, self.pair_ordered_edges)
        if args[0].shape[0] < 2 or args[1].shape[1] < 2:
            raise ValueError(
                f"an exported model needs at least 2 atoms and 2 edges, got {args[0].shape[0]} atoms and "
                f"{args[1].shape[1]} edges (evaluate such a frame with the eager model, e.g. from the checkpoint)"
            )
        outputs = self._function(*args)
        return dict(zip(self.output_fields, outputs))


def _is_aoti_package(names: List[str]) -> bool:
    """Whether a .pt2 zip with entries ``names`` is an AOTInductor package (else an ExportedProgram)."""
    return any("/data/aotinductor/" in name for name in names)


#: Operator namespaces that torch defines itself; an exported graph's other operators come from
#: libraries that the loading process must have registered (see :func:`custom_operator_namespaces`).
TORCH_OPERATOR_NAMESPACES = ("aten", "prims")


def custom_operator_namespaces(graph: torch.fx.GraphModule) -> List[str]:
    """The namespaces of the operators in ``graph`` that torch does not define, e.g.
    ``nequip_kernels`` (the fused convolution of ``nequip-kernels``, which a model calls on the
    CPU where it is installed): recorded as ``custom_operators`` in an export's metadata."""
    return sorted(
        {
            node.target.namespace
            for node in graph.graph.nodes
            if isinstance(node.target, torch._ops.OpOverload) and node.target.namespace not in TORCH_OPERATOR_NAMESPACES
        }
    )


def operator_library_error(
    path: str, error: Optional[Exception] = None, custom_operators: Sequence[str] = ()
) -> Optional[ValueError]:
    """The error to raise when the exported model ``path`` calls the operators of
    ``nequip-kernels`` (named in its ``custom_operators`` or in ``error``, the failure to load
    it) and that package is not installed here; ``None`` otherwise."""
    named = "nequip_kernels" in custom_operators or (error is not None and "nequip_kernels" in str(error))
    if HAS_FUSED_KERNELS or not named:
        return None
    return ValueError(
        f"path {path!r} was exported with the fused convolution of nequip-kernels (operators "
        f"nequip_kernels::*), which is not installed in this environment: install nequip-kernels, built "
        f"against this torch ({torch.__version__}), or export the model again where it is not installed"
    )


class _LoadedFile(NamedTuple):
    """A file of :func:`export_model` opened on ``device``: its graph (``None`` for an
    AOTInductor package of another device type) and its metadata."""

    function: Optional[Callable]
    metadata: Dict[str, Any]
    device: torch.device


def _load(path: str, device: torch.device) -> _LoadedFile:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            # an ExportedProgram's metadata, read first: torch.export.load only warns which operators it lacks
            entry = next((name for name in names if name.endswith(f"/extra/{_METADATA_FILE}")), None)
            early = json.loads(archive.read(entry) or b"{}") if entry is not None else {}
    except (OSError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"path {path!r} is not a model file written by nequip-compile (not a readable .pt2 zip: {err})"
        ) from err
    if _is_aoti_package(names):
        from torch._inductor import aoti_load_package  # documented there, no public alias

        try:
            runner = aoti_load_package(path)
        except Exception as err:
            library_error = operator_library_error(path, err)  # AOTInductor's loader names the operator
            if library_error is None:
                raise
            raise library_error from err
        text = runner.get_metadata().get(_METADATA_FILE)
        function: Optional[Callable] = runner
    else:
        library_error = operator_library_error(path, custom_operators=early.get("custom_operators", []))
        if library_error is not None:
            raise library_error
        extra = {_METADATA_FILE: ""}
        program = torch.export.load(path, extra_files=extra)
        text = extra[_METADATA_FILE]
        function = None
    if not text:
        raise ValueError(f"path {path!r} is a .pt2 file without nequip metadata; write it with nequip-compile")
    metadata = json.loads(text)
    metadata.setdefault("target", ASE_TARGET)  # files written before targets were recorded
    if function is None:  # an ExportedProgram runs on any device
        if metadata["device"] != device.type:
            from torch.export.passes import move_to_device_pass

            program = move_to_device_pass(program, device)
        function = program.module()
    return _LoadedFile(function, metadata, device)


def read_exported_metadata(path: str) -> Dict[str, Any]:
    """The JSON metadata of a file written by ``nequip-compile`` for any target (``"target"``
    names it; ``"ase"`` for files written before targets were recorded).

    Raises:
        ValueError: for a file that is not a ``.pt2`` zip with nequip metadata.
    """
    return _load(path, torch.device("cpu")).metadata


def load_exported_model(path: str, device: Union[str, torch.device] = "cpu") -> ExportedModel:
    """Load a file written by :func:`export_model` for the ``ase`` target on ``device``.

    An ``export``-mode file may be loaded on any device; an AOTInductor package only on
    the device type it was compiled for.

    Raises:
        ValueError: for a file that is not an exported nequip model, one exported for
            another target (e.g. ``lammps``), or an AOTInductor package compiled for
            another device type.
    """
    device = torch.device(device)
    loaded = _load(path, device)
    metadata = loaded.metadata
    if metadata["target"] != ASE_TARGET:
        raise ValueError(
            f"path {path!r} was compiled for target {metadata['target']!r}; this loader (and NequIPCalculator) runs "
            f"target {ASE_TARGET!r} files (nequip-compile --target {ASE_TARGET}, the default)"
        )
    if metadata.get("format") != EXPORT_FORMAT or metadata.get("format_version") != EXPORT_FORMAT_VERSION:
        raise ValueError(
            f"path {path!r} has format {metadata.get('format')!r} version {metadata.get('format_version')!r}; "
            f"this version reads {EXPORT_FORMAT!r} version {EXPORT_FORMAT_VERSION}"
        )
    if metadata["mode"] == "aotinductor" and metadata["device"] != device.type:
        raise ValueError(
            f"path {path!r} was compiled with AOTInductor for device {metadata['device']!r}; it cannot run on "
            f"device={str(device)!r} (compile it again with nequip-compile --device {device.type})"
        )
    threads = metadata.get("cpu_threads")
    if threads is not None and device.type == "cpu" and threads != torch.get_num_threads():
        warnings.warn(
            f"{path!r} was compiled for {threads} CPU thread(s) but this process runs torch with "
            f"{torch.get_num_threads()}; it runs slower than it can (set OMP_NUM_THREADS={threads} or "
            f"torch.set_num_threads({threads}), or compile it again with nequip-compile --cpu-threads "
            f"{torch.get_num_threads()})",
            stacklevel=2,
        )
    return ExportedModel(loaded.function, metadata, device)
