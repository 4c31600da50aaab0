"""compile_mode='compile': same energies, forces and weight gradients as eager; clear eager fallbacks.

The tests compile with the ``aot_eager`` backend (make_fx tracing of the force
computation, dynamo and AOTAutograd: everything but inductor's C++ code generation,
which takes minutes on a small CI machine); ``tools/bench_models.py --compile``
checks the inductor backend on the benchmark frames.
"""

import pytest
import torch

from nequip.data import AtomicDataDict, keys
from nequip.model import CompileGraphModel, NequIPGNNModel
from nequip.nn.kernels import TensorProductScatter
from nequip.nn.testkit import random_bulk, random_cluster

TYPES = ["H", "O"]
FIELDS = (keys.TOTAL_ENERGY_KEY, keys.PER_ATOM_ENERGY_KEY, keys.FORCE_KEY, keys.STRESS_KEY, keys.VIRIAL_KEY)


@pytest.fixture
def models(request, tiny_kwargs):
    """Eager and compiled models with nequip-kernels' fused convolution where it applies (if
    installed), or with the PyTorch formulations of the convolution (parameter ``False``)."""
    tiny_kwargs.update(parity=False, per_type_energy_shifts_trainable=True)
    eager = NequIPGNNModel(**tiny_kwargs)
    compiled = NequIPGNNModel(**tiny_kwargs, compile_mode="compile")
    compiled.compile_backend = "aot_eager"
    for model in (eager, compiled):  # eager runs in slices of 7 edges; the traced graph must not
        for module in model.modules():
            if isinstance(module, TensorProductScatter):
                module.edge_chunk_size = 7
                module.fused_kernel = getattr(request, "param", True)
    assert isinstance(compiled, CompileGraphModel)
    return eager, compiled


def _batch(sizes, seed):
    frames = [random_cluster(TYPES, 3.0, num_atoms=n, seed=seed + i) for i, n in enumerate(sizes)]
    return AtomicDataDict.batched_from_list(frames + [random_bulk(TYPES, 3.0, num_atoms=3, seed=seed)])


def _assert_same(got, expected):
    for field in FIELDS:
        torch.testing.assert_close(got[field], expected[field], rtol=1e-10, atol=1e-10, equal_nan=True, msg=field)


@pytest.mark.parametrize("models", [True, False], ids=["fused kernel", "pytorch convolution"], indirect=True)
def test_training_step_matches_eager(models):
    """Energies, forces, stress and the weight gradients of an energy + force loss; new batch sizes reuse the graph."""
    eager, compiled = models
    for data in (_batch([5, 4], 0), _batch([3, 6, 4], 10)):
        grads = []
        for model in (eager, compiled):
            model.zero_grad()
            out = model(dict(data))
            loss = out[keys.TOTAL_ENERGY_KEY].square().sum() + out[keys.FORCE_KEY].square().sum()
            loss.backward()
            grads.append({name: p.grad.clone() for name, p in model.named_parameters()})
            if model is eager:
                expected = out
        _assert_same(out, expected)
        for name, grad in grads[0].items():
            torch.testing.assert_close(grads[1][name], grad, rtol=1e-9, atol=1e-10, msg=name)
    assert compiled.compile_disabled_reason is None
    assert len(compiled._variants) == 1  # one trace for both batch sizes
    # the eager reference of the first call ran in eval mode; the model is back in training mode
    assert all(module.training for module in compiled.modules())


def test_evaluation_matches_eager(models):
    """Eval mode (forces without a graph, as in validation) is its own variant; outputs carry no weight gradients.

    Backend ``eager`` (make_fx tracing and dynamo only): with detached weights AOTAutograd
    would only add an inference graph, and this keeps the test cheap.
    """
    eager, compiled = models
    compiled.compile_backend = "eager"
    eager.eval(), compiled.eval()
    data = _batch([5, 4], 3)
    out = compiled(dict(data))
    _assert_same(out, eager(dict(data)))
    assert not out[keys.FORCE_KEY].requires_grad
    assert compiled.compile_disabled_reason is None and list(compiled._variants)[0][1] is False


def test_single_frames_compile_once_for_any_size(models):
    """Molecular dynamics: single frames of different sizes share one traced graph (frame count 1)."""
    eager, compiled = models
    compiled.compile_backend = "eager"
    eager.eval(), compiled.eval()
    for num_atoms, seed in ((5, 0), (8, 1)):
        frame = random_bulk(TYPES, 3.0, num_atoms=num_atoms, seed=seed)
        _assert_same(compiled(dict(frame)), eager(dict(frame)))
    assert compiled.compile_disabled_reason is None
    assert list(compiled._variants) == [(tuple(sorted(compiled.prepare_inputs(frame)[0])), False, True)]


def test_eager_fallbacks_warn_and_say_why(models, monkeypatch):
    eager, compiled = models
    lone = random_cluster(TYPES, 3.0, num_atoms=1)
    with pytest.warns(UserWarning, match="fewer than 2 atoms or 2 edges run eagerly"):
        out = compiled(dict(lone))
    _assert_same(out, eager(dict(lone)))

    data = _batch([4], 0)
    with_grad = {**data, keys.POSITIONS_KEY: data[keys.POSITIONS_KEY].clone().requires_grad_(True)}
    with pytest.warns(UserWarning, match="'pos' requires grad run eagerly"):
        compiled(with_grad)

    import torch.fx.experimental.proxy_tensor as proxy_tensor

    def broken_make_fx(*args, **kwargs):
        raise RuntimeError("tracing is not possible here")

    monkeypatch.setattr(proxy_tensor, "make_fx", broken_make_fx)
    with pytest.warns(
        UserWarning,
        match=r"torch.compile failed \(RuntimeError: tracing is not possible here\); this model runs eagerly",
    ):
        out = compiled(dict(data))
    _assert_same(out, eager(dict(data)))
    assert "tracing is not possible here" in compiled.compile_disabled_reason
    assert not compiled._variants
