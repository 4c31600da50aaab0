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
AOTInductor packages store graphs, code and raw weights).

The CPU kernels of an AOTInductor package are generated for a fixed number of threads
(``cpu_threads``, by default the exporting process's ``torch.get_num_threads()``),
recorded in the metadata; loading it in a process with another thread count warns. Export
for the thread count of the simulations: a package compiled for more threads than the
process runs still starts that many threads in every kernel and costs much more CPU time
per step, and inductor's thread-count-independent kernels (``cpp.dynamic_threads``) are
about as slow (figures in ``docs/benchmarks.md``).

One exported model evaluates one frame per call (``num_atoms`` of shape (1,), as in
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
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch

from nequip.data import AtomicDataDict, keys
from nequip.data.neighborlist import edge_pair_order, permute_edges_
from nequip.data.transforms import NeighborListTransform
from nequip.nn.graph_module import FLOAT64_OUTPUT_FIELDS, GraphModel
from nequip.nn.kernels import traced_for_graph_compiler

from .torch_compile import _no_duck_shapes, max_relative_deviation

#: ``mode`` values of :func:`export_model` (and ``nequip-compile --mode``).
EXPORT_MODES = ("aotinductor", "export")
#: Input fields of an exported model, in the order of its positional arguments, each with
#: its dynamic dimensions: ``{axis: "atoms" or "edges"}`` (empty: every size is fixed).
EXPORT_INPUTS: Dict[str, Dict[int, str]] = {
    keys.POSITIONS_KEY: {0: "atoms"},
    keys.EDGE_INDEX_KEY: {1: "edges"},
    keys.EDGE_CELL_SHIFT_KEY: {0: "edges"},
    keys.CELL_KEY: {},
    keys.ATOM_TYPE_KEY: {0: "atoms"},
    keys.BATCH_KEY: {0: "atoms"},
    keys.NUM_NODES_KEY: {},
}
#: Input fields of an exported model, in the order of its positional arguments.
EXPORT_INPUT_FIELDS = tuple(EXPORT_INPUTS)
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
) -> Dict[str, Any]:
    """The JSON metadata stored with an exported model (plain data); ``cpu_threads``: the
    thread count of an AOTInductor package's CPU kernels (``None`` otherwise);
    ``pair_ordered_edges``: the exported graph takes its edges in pair order (the loader
    brings them into it)."""
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "mode": mode,
        "device": device.type,
        "type_names": list(model.type_names),
        "r_max": float(model.r_max),
        "model_dtype": str(model.model_dtype).replace("torch.", ""),
        "per_edge_type_cutoff": model.per_edge_type_cutoff,
        "input_fields": list(EXPORT_INPUT_FIELDS),
        "output_fields": list(output_fields),
        "num_frames": 1,
        "cpu_threads": cpu_threads,
        "pair_ordered_edges": bool(pair_ordered_edges),
        "torch_version": torch.__version__,
        "model_metadata": dict(model.metadata),
    }


def _export_inputs(data: AtomicDataDict.Type, device: torch.device, pair_ordered_edges: bool) -> List[torch.Tensor]:
    data = AtomicDataDict.with_batch_(dict(data))
    missing = [field for field in EXPORT_INPUT_FIELDS if field not in data]
    if missing:
        raise ValueError(
            f"data lacks the fields {missing} that an exported model needs (compute the neighbor list first)"
        )
    if data[keys.NUM_NODES_KEY].shape[0] != 1:
        raise ValueError(
            f"an exported model evaluates one frame per call, got {data[keys.NUM_NODES_KEY].shape[0]} frames"
        )
    if pair_ordered_edges:  # outside the exported graph, as GraphModel.prepare_inputs does
        order = edge_pair_order(data[keys.EDGE_INDEX_KEY], data[keys.EDGE_CELL_SHIFT_KEY])
        if order is not None:
            permute_edges_(data, order)
    args = []
    for field in EXPORT_INPUT_FIELDS:
        value = data[field]
        if value.is_floating_point() and value.dtype != torch.float64:
            value = value.to(torch.float64)
        args.append(value.to(device))
    return args


def export_model(
    model: GraphModel,
    path: str,
    mode: str = "aotinductor",
    device: Union[str, torch.device] = "cpu",
    validation_frames: Optional[Sequence[AtomicDataDict.Type]] = None,
    inductor_configs: Optional[Dict[str, Any]] = None,
    cpu_threads: Optional[int] = None,
) -> Dict[str, Any]:
    """Export ``model`` (eval mode, its current weights) to ``path``; return the metadata written.

    Args:
        model: a ``GraphModel`` (e.g. from :func:`~nequip.model.ModelFromCheckpoint`);
            it is copied, not changed.
        path: file to write (a ``.pt2`` zip).
        mode: ``"aotinductor"`` (default, compiled) or ``"export"`` (see the module docstring).
        device: device the exported model runs on (``"cpu"``, ``"cuda"``).
        validation_frames: frames (with neighbor lists, one frame each) on which the saved
            file is loaded back and compared with the eager model; default: two
            :func:`example_frame` s of 27 and 64 atoms. The first one is also traced.
        inductor_configs: extra AOTInductor options (``mode="aotinductor"`` only).
        cpu_threads: threads the CPU kernels of an AOTInductor package are generated for
            (default ``torch.get_num_threads()``; see the module docstring): the thread
            count of the simulations that will use it.

    Raises:
        ValueError: for an unknown mode, a ``cpu_threads`` below 1, a model that is not a ``GraphModel`` or reads
            other inputs than :data:`EXPORT_INPUT_FIELDS`, or an exported model whose
            outputs deviate from the eager model's by more than :data:`EXPORT_TOLERANCE`.
    """
    from torch.export import Dim
    from torch.fx.experimental.proxy_tensor import make_fx

    if mode not in EXPORT_MODES:
        raise ValueError(f"mode={mode!r} is not allowed; allowed are {list(EXPORT_MODES)}")
    if not isinstance(model, GraphModel):
        raise ValueError(f"model must be a GraphModel (e.g. from ModelFromCheckpoint), got a {type(model).__name__}")
    extra = sorted(set(model.model_input_fields) - set(EXPORT_INPUT_FIELDS) - {keys.PBC_KEY})
    if extra:
        raise ValueError(
            f"the model reads extra input fields {extra}; export supports only {list(EXPORT_INPUT_FIELDS)}"
        )
    device = torch.device(device)
    if cpu_threads is not None and (
        isinstance(cpu_threads, bool) or not isinstance(cpu_threads, int) or cpu_threads < 1
    ):
        raise ValueError(f"cpu_threads must be a positive integer, got {cpu_threads!r}")
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
    example = _export_inputs(validation_frames[0], device, pair_ordered_edges)

    def eager(*args: torch.Tensor) -> Dict[str, torch.Tensor]:
        return model.forward_prepared(dict(zip(EXPORT_INPUT_FIELDS, args)))

    output_fields = [field for field in FLOAT64_OUTPUT_FIELDS if field in eager(*example)]

    def flat(*args: torch.Tensor) -> List[torch.Tensor]:
        out = eager(*args)
        return [out[field] for field in output_fields]

    with _no_duck_shapes(), traced_for_graph_compiler(model):
        traced = make_fx(flat, tracing_mode="symbolic", _allow_non_fake_inputs=True)(*example)
    sizes = {
        "atoms": Dim("num_atoms", min=2),
        # pair order: an even number of edges (the traced graph splits them in halves)
        "edges": 2 * Dim("num_edge_pairs", min=1) if pair_ordered_edges else Dim("num_edges", min=2),
    }
    dynamic = tuple(
        {axis: sizes[size] for axis, size in EXPORT_INPUTS[field].items()} or None for field in EXPORT_INPUT_FIELDS
    )
    program = torch.export.export(traced, tuple(example), dynamic_shapes=dynamic)

    metadata = exported_metadata(model, mode, output_fields, device, cpu_threads, pair_ordered_edges)
    text = json.dumps(metadata)
    if mode == "export":
        torch.export.save(program, path, extra_files={_METADATA_FILE: text})
    else:
        configs = dict(inductor_configs or {})
        configs["aot_inductor.metadata"] = {_METADATA_FILE: text}
        if cpu_threads is not None:
            configs["cpp.threads"] = cpu_threads
        # torch documents AOTInductor's entry points under torch._inductor; there is no public alias
        torch._inductor.aoti_compile_and_package(program, package_path=path, inductor_configs=configs)

    with warnings.catch_warnings():  # checking a package made for another thread count is fine
        warnings.filterwarnings("ignore", message=".* was compiled for .* CPU thread")
        loaded = load_exported_model(path, device)
    tolerance = EXPORT_TOLERANCE[model.model_dtype]
    for index, frame in enumerate(validation_frames):
        args = _export_inputs(frame, device, pair_ordered_edges)
        expected, got = eager(*args), loaded(dict(zip(EXPORT_INPUT_FIELDS, args)))
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


def load_exported_model(path: str, device: Union[str, torch.device] = "cpu") -> ExportedModel:
    """Load a file written by :func:`export_model` on ``device``.

    An ``export``-mode file may be loaded on any device; an AOTInductor package only on
    the device type it was compiled for.

    Raises:
        ValueError: for a file that is not an exported nequip model, or an AOTInductor
            package compiled for another device type.
    """
    device = torch.device(device)
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (OSError, zipfile.BadZipFile) as err:
        raise ValueError(
            f"path {path!r} is not a model file written by nequip-compile (not a readable .pt2 zip: {err})"
        ) from err
    if _is_aoti_package(names):
        from torch._inductor import aoti_load_package  # documented there, no public alias

        runner = aoti_load_package(path)
        text = runner.get_metadata().get(_METADATA_FILE)
        function: Callable = runner
    else:
        extra = {_METADATA_FILE: ""}
        program = torch.export.load(path, extra_files=extra)
        text = extra[_METADATA_FILE]
        function = None  # set below, once the device is checked
    if not text:
        raise ValueError(f"path {path!r} is a .pt2 file without nequip metadata; write it with nequip-compile")
    metadata = json.loads(text)
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
    if function is None:
        if metadata["device"] != device.type:
            from torch.export.passes import move_to_device_pass

            program = move_to_device_pass(program, device)
        function = program.module()
    return ExportedModel(function, metadata, device)
