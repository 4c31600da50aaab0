"""Kernels: scatter-sum and the tensor-product convolution against their slow references."""

import contextlib

import pytest
import torch
from e3nn import o3

from nequip.nn.kernels import (
    HAS_FUSED_KERNELS,
    HAS_TORCH_SCATTER,
    GraphCompilerFormulation,
    ReferenceTensorProductScatter,
    TensorProductScatter,
    per_type_self_connection,
    scatter_sum,
    scatter_sum_reference,
    traced_for_graph_compiler,
    uvu_instructions,
)
from nequip.nn.kernels import scatter as scatter_module
from nequip.nn.kernels.self_connection import check_per_type_self_connection
from nequip.nn.testkit import wigner_d

IRREPS = [
    ("3x0e", 1),
    ("3x0e+2x1o", 1),
    ("2x0e+2x0o+2x1o+2x1e+2x2e+2x2o", 2),
    ("4x0e+3x1o+2x2e", 2),
    ("2x0e+2x1o+2x2e+1x3o", 3),
]


def _inputs(irreps_in, l_max, num_nodes=7, num_edges=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    sh_irreps = o3.Irreps.spherical_harmonics(l_max)
    x = torch.randn(num_nodes, o3.Irreps(irreps_in).dim, generator=g, dtype=torch.float64)
    vec = torch.randn(num_edges, 3, generator=g, dtype=torch.float64)
    sh = o3.spherical_harmonics(sh_irreps, vec, True, "component")
    center = torch.randint(0, num_nodes, (num_edges,), generator=g)
    neighbor = torch.randint(0, num_nodes, (num_edges,), generator=g)
    return sh_irreps, x, sh, center, neighbor


@pytest.mark.parametrize("backend", ["index_add", "torch_scatter"])
def test_scatter_sum_matches_reference(backend):
    if backend == "torch_scatter" and not HAS_TORCH_SCATTER:
        pytest.skip("torch-scatter is not installed")
    src = torch.randn(50, 4, 3, dtype=torch.float64)
    index = torch.randint(0, 6, (50,))
    expected = torch.stack([src[index == k].sum(0) for k in range(8)])
    torch.testing.assert_close(scatter_sum(src, index, 8, backend=backend), expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(scatter_sum_reference(src, index, 8), expected, rtol=0, atol=1e-12)
    empty = scatter_sum(src[:0], index[:0], 3, backend=backend)
    assert empty.shape == (3, 4, 3) and bool((empty == 0).all())


def test_scatter_sum_rejects_unknown_backend():
    with pytest.raises(ValueError, match="backend='cuda_magic'"):
        scatter_sum(torch.zeros(2, 1), torch.zeros(2, dtype=torch.long), 1, backend="cuda_magic")
    assert scatter_module.SCATTER_BACKEND in ("index_add", "torch_scatter")


def test_instructions_follow_upstream_layout():
    irreps_mid, instructions = uvu_instructions(o3.Irreps("2x0e+2x1o"), o3.Irreps("0e+1o"), o3.Irreps("2x0e+2x1o"))
    # 0e x 0e -> 0e, 0e x 1o -> 1o, 1o x 0e -> 1o, 1o x 1o -> 0e (1e is not requested)
    assert [ins[:2] for ins in instructions] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert str(irreps_mid) == "2x0e+2x0e+2x1o+2x1o"
    assert all(mode == "uvu" and weighted for *_, mode, weighted in instructions)


@pytest.mark.parametrize("irreps_in,l_max", IRREPS)
@pytest.mark.parametrize(
    "chunk,recompute,one_scatter_sum,fused",
    [
        (1024, False, None, False),
        (7, False, None, False),
        (7, True, None, False),
        (1024, False, False, False),
        (1024, False, True, False),
        (1024, False, None, True),
    ],
)
def test_fast_convolution_matches_reference(irreps_in, l_max, chunk, recompute, one_scatter_sum, fused):
    """Eager (sliced or not, recomputed or not), both graph-compiler formulations (a
    scatter-sum per path group, or one gather and one scatter-sum) and the fused kernel of
    nequip-kernels against e3nn, to second derivatives."""
    if fused and not HAS_FUSED_KERNELS:
        pytest.skip("nequip-kernels is not installed")
    for_graph_compiler = one_scatter_sum is not None
    sh_irreps, x, sh, center, neighbor = _inputs(irreps_in, l_max)
    with torch.random.fork_rng():
        torch.set_default_dtype(torch.float64)
        try:
            fast = TensorProductScatter(
                irreps_in,
                sh_irreps,
                irreps_in,
                edge_chunk_size=chunk,
                recompute_in_backward=recompute,
                fused_kernel=fused,
            )
            ref = ReferenceTensorProductScatter(irreps_in, sh_irreps, irreps_in)
        finally:
            torch.set_default_dtype(torch.float32)
    assert fast.irreps_mid == ref.irreps_mid and fast.weight_numel == ref.weight_numel
    assert fast.training and fast.uses_fused_kernel(x) == fused
    weight = torch.randn(sh.shape[0], fast.weight_numel, dtype=torch.float64)
    inputs = [t.clone().requires_grad_(t.is_floating_point()) for t in (x, sh, weight)]
    ref_inputs = [t.clone().requires_grad_(True) for t in (x, sh, weight)]
    formulation = fast.graph_compiler_formulation(one_scatter_sum) if for_graph_compiler else None
    with formulation or contextlib.nullcontext():
        assert fast.for_graph_compiler == for_graph_compiler
        out = fast(*inputs, center, neighbor)
    expected = ref(*ref_inputs, center, neighbor)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-10)
    # first and second derivatives (forces and their training gradients) agree too
    probe = torch.randn_like(out)
    grads = torch.autograd.grad((out * probe).sum(), inputs, create_graph=True)
    ref_grads = torch.autograd.grad((expected * probe).sum(), ref_inputs, create_graph=True)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-10)
    second = torch.autograd.grad(sum((g**2).sum() for g in grads), inputs)
    ref_second = torch.autograd.grad(sum((g**2).sum() for g in ref_grads), ref_inputs)
    for g, r in zip(second, ref_second):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-9)


@pytest.mark.skipif(not HAS_FUSED_KERNELS, reason="nequip-kernels is not installed")
def test_fused_kernel_in_every_cpu_formulation():
    """Eager, graph-compiler and torch.compile'd formulations, training or not, call the fused
    kernel on the CPU; ``fused_kernel=False`` never."""
    sh_irreps, x, sh, center, neighbor = _inputs("3x0e+2x1o", 1)
    tp = TensorProductScatter("3x0e+2x1o", sh_irreps, "3x0e+2x1o").double()
    plain = TensorProductScatter("3x0e+2x1o", sh_irreps, "3x0e+2x1o", fused_kernel=False).double()

    def compiled_uses_fused_kernel(module):
        return torch.compile(lambda t: module.uses_fused_kernel(t), backend="eager", fullgraph=True)(x)

    for training in (True, False):
        tp.train(training)
        plain.train(training)
        assert tp.uses_fused_kernel(x) and not plain.uses_fused_kernel(x)
        with tp.graph_compiler_formulation(), plain.graph_compiler_formulation():
            assert tp.uses_fused_kernel(x) and not plain.uses_fused_kernel(x)
        assert compiled_uses_fused_kernel(tp) is True and compiled_uses_fused_kernel(plain) is False
    # float32 and float64 models: the coefficient table follows the module's dtype
    weight = torch.randn(sh.shape[0], tp.weight_numel)
    for dtype, tolerance in ((torch.float32, 1e-5), (torch.float64, 1e-12)):
        tp.to(dtype)
        plain.to(dtype)
        fused = tp(x.to(dtype), sh.to(dtype), weight.to(dtype), center, neighbor)
        expected = plain(x.to(dtype), sh.to(dtype), weight.to(dtype), center, neighbor)
        assert fused.dtype == dtype
        torch.testing.assert_close(fused, expected, rtol=tolerance, atol=tolerance)


def test_traced_for_graph_compiler_sets_and_restores_the_kernels():
    model = torch.nn.Sequential(
        TensorProductScatter("3x0e+2x1o", "0e+1o", "3x0e+2x1o", edge_chunk_size=16), torch.nn.Linear(1, 1)
    )
    assert isinstance(model[0], GraphCompilerFormulation)
    with traced_for_graph_compiler(model):
        assert model[0].for_graph_compiler
        with model[0].graph_compiler_formulation():  # nested: restores the outer state
            assert model[0].for_graph_compiler
        assert model[0].for_graph_compiler
    assert model[0].edge_chunk_size == 16 and not model[0].for_graph_compiler
    with pytest.raises(RuntimeError, match="inside"), traced_for_graph_compiler(model):
        raise RuntimeError("inside")
    assert not model[0].for_graph_compiler


def test_graph_compiler_formulation_does_not_slice_edges(monkeypatch):
    """In the graph-compiler formulation a CPU batch goes at once (one index_add_ per group)."""
    sh_irreps, x, sh, center, neighbor = _inputs("3x0e", 0, num_edges=40)
    tp = TensorProductScatter("3x0e", sh_irreps, "3x0e", edge_chunk_size=7, fused_kernel=False)
    weight = torch.randn(40, tp.weight_numel, dtype=torch.float64)
    tp.double()
    calls = []
    original = tp._slice_messages
    monkeypatch.setattr(
        tp, "_slice_messages", lambda sh_slice, *rest: (calls.append(sh_slice.shape[0]), original(sh_slice, *rest))[1]
    )
    tp(x, sh, weight, center, neighbor)
    assert calls == [7, 7, 7, 7, 7, 5]
    calls.clear()
    with tp.graph_compiler_formulation():
        tp(x, sh, weight, center, neighbor)
    assert calls == [40]


def test_kernels_satisfy_the_convolution_protocol():
    """What InteractionBlock relies on: weight layout, size, weights_in_kernel_order."""
    sh_irreps, x, sh, center, neighbor = _inputs("3x0e+2x1o+2x2e", 2)
    with torch.random.fork_rng():
        torch.set_default_dtype(torch.float64)
        try:
            fast = TensorProductScatter("3x0e+2x1o+2x2e", sh_irreps, "3x0e+2x1o+2x2e")
            preordered = TensorProductScatter(
                "3x0e+2x1o+2x2e", sh_irreps, "3x0e+2x1o+2x2e", weights_in_kernel_order=True
            )
            ref = ReferenceTensorProductScatter("3x0e+2x1o+2x2e", sh_irreps, "3x0e+2x1o+2x2e")
        finally:
            torch.set_default_dtype(torch.float32)
    assert ref.weight_order is None
    order = fast.weight_order
    assert order is not None and torch.equal(torch.sort(order).values, torch.arange(fast.weight_numel))
    weight = torch.randn(sh.shape[0], fast.weight_numel, dtype=torch.float64)
    expected = ref(x, sh, weight, center, neighbor)
    torch.testing.assert_close(fast(x, sh, weight, center, neighbor), expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(preordered(x, sh, weight[:, order], center, neighbor), expected, rtol=0, atol=1e-10)


def test_convolution_without_edges_is_zero():
    sh_irreps, x, sh, center, neighbor = _inputs("3x0e+2x1o", 1, num_edges=0)
    tp = TensorProductScatter("3x0e+2x1o", sh_irreps, "3x0e+2x1o")
    out = tp(x.float(), sh.float(), torch.zeros(0, tp.weight_numel), center, neighbor)
    assert out.shape == (7, tp.irreps_mid.dim) and bool((out == 0).all())


def test_convolution_validates_irreps():
    with pytest.raises(ValueError, match="multiplicity 2"):
        TensorProductScatter("2x0e", "2x0e", "2x0e")
    with pytest.raises(ValueError, match="empty"):
        TensorProductScatter("", "0e", "0e")


def test_convolution_is_equivariant():
    irreps = o3.Irreps("3x0e+2x1o+2x2e")
    sh_irreps, x, _, center, neighbor = _inputs(irreps, 2)
    torch.set_default_dtype(torch.float64)
    try:
        tp = TensorProductScatter(irreps, sh_irreps, irreps)
    finally:
        torch.set_default_dtype(torch.float32)
    vec = torch.randn(center.shape[0], 3, dtype=torch.float64)
    weight = torch.randn(center.shape[0], tp.weight_numel, dtype=torch.float64)
    rot = o3.rand_matrix(dtype=torch.float64)
    rot = -rot  # include the inversion
    sh = lambda v: o3.spherical_harmonics(sh_irreps, v, True, "component")  # noqa: E731
    out = tp(x, sh(vec), weight, center, neighbor)
    out_rot = tp(x @ wigner_d(irreps, rot).T, sh(vec @ rot.T), weight, center, neighbor)
    torch.testing.assert_close(out_rot, out @ wigner_d(tp.irreps_mid, rot).T, rtol=0, atol=1e-10)


@pytest.mark.parametrize("mode", ["compile", "export"])
def test_convolution_compiles(mode):
    """torch.compile (aot_eager: tracing + autograd, no C++ build) and torch.export smoke tests."""
    sh_irreps, x, sh, center, neighbor = _inputs("3x0e+2x1o", 1)
    tp = TensorProductScatter("3x0e+2x1o", sh_irreps, "3x0e+2x1o")
    args = (x.float(), sh.float(), torch.randn(sh.shape[0], tp.weight_numel), center, neighbor)
    compiled = (
        torch.compile(tp, backend="aot_eager", fullgraph=True)
        if mode == "compile"
        else torch.export.export(tp, args).module()
    )
    torch.testing.assert_close(compiled(*args), tp(*args), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("irreps_in,l_max", IRREPS)
@pytest.mark.parametrize("irreps_attrs", ["5x0e", "2x0e+3x0o"])
def test_per_type_self_connection_matches_e3nn(irreps_in, l_max, irreps_attrs):
    """Values, first and second derivatives (features, weights, type table) against e3nn's FCTP."""
    irreps_out = o3.Irreps(irreps_in) + o3.Irreps("3x0o+2x1e")
    tp = o3.FullyConnectedTensorProduct(irreps_in, irreps_attrs, irreps_out).double()
    g = torch.Generator().manual_seed(3)
    x = torch.randn(9, tp.irreps_in1.dim, generator=g, dtype=torch.float64, requires_grad=True)
    table = torch.randn(4, tp.irreps_in2.dim, generator=g, dtype=torch.float64, requires_grad=True)
    types = torch.tensor([2, 0, 2, 3, 0, 0, 3, 2, 3])  # type 1 absent
    cotangent = torch.randn(9, tp.irreps_out.dim, generator=g, dtype=torch.float64)
    results = []
    for compute in (lambda: tp(x, table[types]), lambda: per_type_self_connection(tp, x, table[types], types, 4)):
        out = compute()
        grads = torch.autograd.grad((out * cotangent).sum(), [x, tp.weight, table], create_graph=True)
        # the derivative of a force-like quantity (grad wrt x) wrt the parameters, as in training
        second = torch.autograd.grad((grads[0] ** 2).sum(), [tp.weight, table])
        results.append([out, *grads, *second])
    for fast, ref in zip(results[1], results[0]):
        torch.testing.assert_close(fast, ref, rtol=0, atol=1e-12)


def test_per_type_self_connection_without_atoms():
    tp = o3.FullyConnectedTensorProduct("2x0e+2x1o", "3x0e", "2x0e+2x1o")
    x, attrs, types = torch.zeros(0, 8), torch.zeros(0, 3), torch.zeros(0, dtype=torch.int64)
    assert per_type_self_connection(tp, x, attrs, types, 2).shape == (0, 8)


def test_per_type_self_connection_checks_the_tensor_product():
    check_per_type_self_connection(o3.FullyConnectedTensorProduct("2x0e+2x1o", "3x0e", "2x0e+2x1o"))
    with pytest.raises(ValueError, match=r"second input 1x1o is not all scalars"):
        check_per_type_self_connection(o3.FullyConnectedTensorProduct("2x0e+2x1o", "1x1o", "2x0e+2x1o"))
    uvu = o3.TensorProduct("2x1o", "1x0e", "2x1o", [(0, 0, 0, "uvu", True)])
    with pytest.raises(ValueError, match=r"paths other than weighted 'uvw' \(\['uvu'\]\)"):
        check_per_type_self_connection(uvu)


def test_models_run_without_nequip_kernels():
    """Without the optional package (blocked in a fresh process) the same eval-mode model gives the
    same energies and forces through the PyTorch formulation."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "if sys.argv[1] == 'without':\n"
        "    sys.modules['nequip.kernels'] = None\n"
        "import torch\n"
        "from nequip.nn.kernels import HAS_FUSED_KERNELS\n"
        "from nequip.nn.testkit import evaluate, random_bulk, small_nequip_model\n"
        "model = small_nequip_model(['H', 'O'], r_max=3.0, l_max=2, parity=True).eval()\n"
        "out = evaluate(model, random_bulk(['H', 'O'], r_max=3.0, num_atoms=6))\n"
        "print(HAS_FUSED_KERNELS, repr(out['total_energy'].item()), repr(out['forces'].abs().sum().item()))\n"
    )
    results = {}
    for case in ("with", "without"):
        run = subprocess.run([sys.executable, "-c", code, case], capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-3000:]
        available, energy, forces = run.stdout.split()
        results[case] = (available == "True", float(energy), float(forces))
    assert results["without"][0] is False and results["with"][0] is HAS_FUSED_KERNELS
    for a, b in zip(results["with"][1:], results["without"][1:]):
        assert abs(a - b) <= 1e-10 * max(1.0, abs(b))


@pytest.mark.parametrize("formulation", ["eager", "fused", "graph compiler", "one scatter-sum", "reference"])
def test_weights_per_pair_equal_repeated_weights(formulation):
    """Edges in pair order with one weight row per pair: the same sums, and weight gradients summed
    over both directions, in every formulation."""
    if formulation == "fused" and not HAS_FUSED_KERNELS:
        pytest.skip("nequip-kernels is not installed")
    sh_irreps, x, sh, center, neighbor = _inputs("3x0e+2x1o+2x2e", 2, num_edges=40)
    with torch.random.fork_rng():
        torch.set_default_dtype(torch.float64)
        try:
            kernel = (
                ReferenceTensorProductScatter("3x0e+2x1o+2x2e", sh_irreps, "3x0e+2x1o+2x2e")
                if formulation == "reference"
                else TensorProductScatter(
                    "3x0e+2x1o+2x2e",
                    sh_irreps,
                    "3x0e+2x1o+2x2e",
                    edge_chunk_size=16,
                    fused_kernel=formulation == "fused",
                )
            )
        finally:
            torch.set_default_dtype(torch.float32)
    half = torch.randn(20, kernel.weight_numel, dtype=torch.float64, requires_grad=True)
    context = {
        "graph compiler": lambda: kernel.graph_compiler_formulation(False),
        "one scatter-sum": lambda: kernel.graph_compiler_formulation(True),
    }.get(formulation, contextlib.nullcontext)
    with context():
        out = kernel(x, sh, half, center, neighbor, weights_per_pair=True)
        expected = kernel(x, sh, torch.cat([half, half]), center, neighbor)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-11)
    probe = torch.randn_like(out)
    (grad,), (ref_grad,) = torch.autograd.grad(out, half, probe), torch.autograd.grad(expected, half, probe)
    torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-11)
