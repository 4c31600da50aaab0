"""``compile_mode: compile``: a :class:`GraphModel` that runs its model through ``torch.compile``.

Forces and stress come from ``torch.autograd.grad`` inside the model, which ``torch.compile``
cannot capture, and training needs the gradient of those forces with respect to the
weights (a double backward that compiled autograd graphs do not support). So, as upstream
NequIP does, the whole model *including* its force computation is first traced into one
flat graph of tensor operations with ``make_fx`` (symbolic shapes, weights and buffers as
explicit inputs), and that graph is compiled with ``torch.compile(dynamic=True)``; its
backward (for training) is then an ordinary first-order backward.

One graph is traced and compiled per *variant*: per set of input fields present, per
``training`` flag (training keeps the force graph for the backward) and for single frames
versus batches of several (a frame count of 1 is a constant of the traced graph, the atom
and edge counts stay symbolic: molecular dynamics of one system of any size runs compiled). On the first call of
a variant the compiled outputs are compared with the eager ones (computed in eval mode and
detached, so that no eager graph of the forces is held while the variant compiles). The convolution kernels are
traced in their graph-compiler formulation (:func:`nequip.nn.kernels.traced_for_graph_compiler`:
no CPU edge chunking, so that the graph holds for any number of edges, and contractions that
inductor fuses; eval-mode graphs traced with several threads sum each convolution in one
scatter-sum, which training graphs do not, as it made them slower). In eval mode the weights enter the compiled graph
detached: compiled eval outputs carry no gradient to the weights.

When the model runs eagerly instead (each with a one-time ``UserWarning`` per model saying
why):

* the batch has fewer than 2 atoms or 2 edges (a size of 0 or 1 would be baked into the
  traced graph);
* positions or cell require grad (the caller differentiates through them; the traced
  graph does not connect to its inputs);
* tracing or compiling raised an exception (e.g. inductor on a CPU machine without a C++
  compiler), the compiled outputs differed from the eager ones on the first batch, or a
  compiled call failed: compilation is then off for this model for good
  (``compile_disabled_reason`` says why).

Outputs: the model's input fields plus energies, forces, stress and virial (those the
model writes). Intermediate fields (node features, edge vectors, ...) that the eager
model also returns are not returned in compiled calls.
"""

import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from nequip.data import AtomicDataDict, keys
from nequip.data.neighborlist import restore_edge_order_
from nequip.nn.graph_module import FLOAT64_OUTPUT_FIELDS, GraphModel
from nequip.nn.kernels import traced_for_graph_compiler

_Variant = Tuple[Callable, Tuple[str, ...], Tuple[str, ...]]  # compiled fn, input fields, output fields


def _no_duck_shapes():
    """make_fx/dynamo config: distinct symbols for equal sizes (e.g. 3 frames vs 3 Cartesian axes)."""
    # private: torch has no public switch for duck shapes; without it equal sizes share one symbol
    from torch.fx.experimental import _config

    return _config.patch(use_duck_shape=False)


def max_relative_deviation(got: torch.Tensor, expected: torch.Tensor, offset: float = 0.0) -> float:
    """``max |got - expected| / (offset + max |expected|)`` over the finite entries of ``expected``
    (``inf`` if the two differ in which entries are finite, or the scale is 0 and they differ)."""
    got, expected = got.detach().to(torch.float64), expected.detach().to(torch.float64)
    finite = torch.isfinite(expected)
    if not torch.equal(finite, torch.isfinite(got)):
        return float("inf")
    if not bool(finite.any()):
        return 0.0
    difference = float((got[finite] - expected[finite]).abs().max())
    if difference == 0.0:
        return 0.0
    scale = offset + float(expected[finite].abs().max())
    return difference / scale if scale > 0 else float("inf")


class CompileGraphModel(GraphModel):
    """:class:`~nequip.nn.graph_module.GraphModel` whose model runs ``torch.compile`` d (see module docstring).

    Built with the same arguments as ``GraphModel``; same state dict and metadata.

    Attributes:
        compile_backend: ``torch.compile`` backend (class default ``"inductor"``; set it on
            an instance before its first call to trace with another, e.g. ``"eager"`` in tests).
        compile_disabled_reason: ``None``, or why compilation was turned off for this model.
    """

    compile_backend: str = "inductor"

    def __init__(self, *args: Any, **kwargs: Any):
        """See :class:`~nequip.nn.graph_module.GraphModel` for the arguments."""
        super().__init__(*args, **kwargs)
        self.compile_disabled_reason: Optional[str] = None
        self._variants: Dict[Tuple[Tuple[str, ...], bool, bool], _Variant] = {}
        self._warned: set = set()

    def __getstate__(self) -> Dict[str, Any]:
        # compiled functions are neither copyable nor picklable: copies recompile lazily
        state = self.__dict__.copy()
        state["_variants"] = {}
        return state

    def _warn_once(self, kind: str, message: str) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(f"compile_mode='compile': {message}", UserWarning, stacklevel=3)

    def _disable(self, reason: str) -> None:
        self.compile_disabled_reason = reason
        self._variants.clear()
        self._warn_once("disabled", f"{reason}; this model runs eagerly from now on")

    def _eager_reason(self, data: AtomicDataDict.Type) -> Optional[Tuple[str, str]]:
        if self.compile_disabled_reason is not None or torch.compiler.is_compiling() or torch.jit.is_scripting():
            return ("", "")  # already warned / nested compile
        if AtomicDataDict.num_nodes(data) < 2 or AtomicDataDict.num_edges(data) < 2:
            return ("small", "batches with fewer than 2 atoms or 2 edges run eagerly")
        for field in (keys.POSITIONS_KEY, keys.CELL_KEY):
            if field in data and data[field].requires_grad:
                return ("grad", f"inputs whose {field!r} requires grad run eagerly")
        return None

    def _state(self) -> Tuple[List[str], List[torch.Tensor]]:
        names, tensors = [], []
        for name, tensor in list(self.model.named_parameters()) + list(self.model.named_buffers()):
            names.append(name)
            tensors.append(tensor)
        return names, tensors

    def _eager_reference(self, inputs: AtomicDataDict.Type) -> AtomicDataDict.Type:
        """The eager model's outputs on ``inputs``, detached, to check a compiled variant against.

        Computed in eval mode: the same numbers as in training mode (to rounding), without
        the graph of the forces that training mode keeps for the backward, which would
        otherwise be the peak of the process's memory while the variant is compiled.
        """
        training = self.model.training
        self.model.eval()
        try:
            return {field: value.detach() for field, value in self.model(dict(inputs)).items()}
        finally:
            self.model.train(training)

    def _compile_variant(self, inputs: AtomicDataDict.Type) -> Optional[_Variant]:
        from torch.fx.experimental.proxy_tensor import make_fx

        eager = self._eager_reference(inputs)
        output_fields = tuple(field for field in FLOAT64_OUTPUT_FIELDS if field in eager)
        input_fields = tuple(sorted(inputs))
        state_names, state = self._state()
        if not self.training:
            state = [tensor.detach() for tensor in state]
        num_inputs = len(input_fields)

        def flat_model(*args: torch.Tensor) -> List[torch.Tensor]:
            data = dict(zip(input_fields, args[:num_inputs]))
            params = dict(zip(state_names, args[num_inputs:]))
            out = torch.func.functional_call(self.model, params, (data,))
            return [out[field] for field in output_fields]

        args = [inputs[field] for field in input_fields] + state
        # one scatter-sum per convolution for inference graphs on several threads (training
        # graphs were slower with it, docs/benchmarks.md)
        one_scatter_sum = not self.training and torch.get_num_threads() > 1
        with _no_duck_shapes(), traced_for_graph_compiler(self.model, one_scatter_sum):
            traced = make_fx(flat_model, tracing_mode="symbolic", _allow_non_fake_inputs=True)(*args)
            compiled = torch.compile(traced, dynamic=True, fullgraph=False, backend=self.compile_backend)
            outputs = compiled(*args)
        tol = 1e-8 if self.model_dtype == torch.float64 else 1e-4
        for field, value in zip(output_fields, outputs):
            deviation = max_relative_deviation(value, eager[field], offset=1.0)
            if not deviation <= tol:
                self._disable(
                    f"the compiled model's {field!r} differs from the eager model's by {deviation:.2e} "
                    f"(relative; tolerance {tol:.0e}) on the first batch"
                )
                return None
        return compiled, input_fields, output_fields

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        reason = self._eager_reason(data)
        if reason is not None:
            if reason[0]:
                self._warn_once(*reason)
            return super().forward(data)
        inputs, order = self.prepare_inputs(data)
        key = (tuple(sorted(inputs)), self.training, AtomicDataDict.num_frames(data) == 1)
        try:
            if key not in self._variants:
                variant = self._compile_variant(inputs)
                if variant is None:
                    return super().forward(data)
                self._variants[key] = variant
            compiled, input_fields, output_fields = self._variants[key]
            _, state = self._state()
            if not self.training:
                state = [tensor.detach() for tensor in state]
            with _no_duck_shapes():
                outputs = compiled(*([inputs[field] for field in input_fields] + state))
        except torch.OutOfMemoryError:
            raise
        except Exception as err:  # noqa: BLE001 - any tracing/compilation failure falls back to eager
            first_line = (str(err).strip().splitlines() or [""])[0][:300]
            self._disable(f"torch.compile failed ({type(err).__name__}: {first_line})")
            return super().forward(data)
        out = dict(inputs)
        for field, value in zip(output_fields, outputs):
            out[field] = value.to(torch.float64) if value.dtype != torch.float64 else value
        if order is not None:
            restore_edge_order_(out, data, order)
        return out
