"""The fused convolution against its PyTorch reference, on random path tables of the contract."""

import pytest
import torch

from nequip.kernels import PATH_COLUMNS, tensor_product_scatter, tensor_product_scatter_reference

# (mul, d1, d3, x_offset, w_offset, out_offset) of each path, and the widths (S, F_in, W, F_out):
# irreps of dimensions 1, 3 and 5 with 3 or 4 channels, two paths writing the same outputs (they
# must be summed)
NARROW = (
    [(3, 1, 1, 0, 0, 0), (3, 1, 3, 0, 3, 3), (4, 3, 1, 3, 6, 12), (4, 3, 5, 3, 10, 16), (4, 3, 5, 3, 14, 16)],
    (9, 15, 18, 36),
)
# the kernel's blocks of channels: 19 and 35 channels (whole blocks of 16 floats or 8 doubles and
# a rest), 16 (whole blocks only), and a path of dimensions 7 and 3 (run-time dimensions)
WIDE = (
    [
        (19, 1, 1, 0, 0, 0),
        (19, 1, 3, 0, 19, 19),
        (35, 3, 1, 19, 38, 76),
        (35, 3, 5, 19, 73, 111),
        (35, 3, 5, 19, 108, 111),
        (16, 7, 3, 124, 143, 286),
    ],
    (9, 236, 159, 334),
)


def _problem(dtype=torch.float64, num_nodes=9, num_edges=70, seed=0, layout=NARROW):
    """Random inputs and paths of ``layout`` with random sparse coefficients."""
    g = torch.Generator().manual_seed(seed)
    path_layout, (num_sh, f_in, num_w, f_out) = layout
    paths, index, value = [], [], []
    for mul, d1, d3, x_offset, w_offset, out_offset in path_layout:
        begin = len(index)
        for m1 in range(d1):
            for m3 in range(d3):
                for m2 in torch.randperm(num_sh, generator=g)[:2].tolist():
                    index.append([m1, m2, m3])
                    value.append(torch.randn((), generator=g, dtype=torch.float64).item())
        paths.append([mul, d1, d3, x_offset, w_offset, out_offset, begin, len(index)])
    tables = (torch.tensor(paths), torch.tensor(index), torch.tensor(value, dtype=dtype), f_out)
    x = torch.randn(num_nodes, f_in, generator=g, dtype=dtype)
    sh = torch.randn(num_edges, num_sh, generator=g, dtype=dtype)
    w = torch.randn(num_edges, num_w, generator=g, dtype=dtype)
    center = torch.randint(0, num_nodes, (num_edges,), generator=g)
    neighbor = torch.randint(0, num_nodes, (num_edges,), generator=g)
    return (x, sh, w, center, neighbor), tables


def test_path_columns_name_the_table():
    assert len(PATH_COLUMNS) == 8 and PATH_COLUMNS[0] == "mul" and PATH_COLUMNS[-1] == "cg_end"


def test_reference_follows_the_contract_edge_by_edge():
    (x, sh, w, center, neighbor), (paths, index, value, f_out) = _problem(num_edges=12)
    expected = torch.zeros(x.shape[0], f_out, dtype=x.dtype)
    for e in range(sh.shape[0]):
        for mul, d1, d3, x_off, w_off, out_off, begin, end in paths.tolist():
            t = torch.zeros(d3, d1, dtype=x.dtype)
            for (m1, m2, m3), v in zip(index[begin:end].tolist(), value[begin:end]):
                t[m3, m1] += v * sh[e, m2]
            x_j = x[neighbor[e], x_off : x_off + d1 * mul].view(d1, mul)
            message = (t @ x_j) * w[e, w_off : w_off + mul]
            expected[center[e], out_off : out_off + d3 * mul] += message.reshape(-1)
    out = tensor_product_scatter_reference(x, sh, w, center, neighbor, paths, index, value, f_out)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("layout", [NARROW, WIDE], ids=["narrow", "wide"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype,tolerance", [(torch.float64, 1e-11), (torch.float32, 2e-5)])
def test_fused_matches_reference_values_and_gradients(threads, dtype, tolerance, layout):
    inputs, tables = _problem(dtype, num_edges=500, layout=layout)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        fused_inputs = [t.clone().requires_grad_(True) for t in inputs[:3]]
        ref_inputs = [t.clone().requires_grad_(True) for t in inputs[:3]]
        out = tensor_product_scatter(*fused_inputs, *inputs[3:], *tables)
        expected = tensor_product_scatter_reference(*ref_inputs, *inputs[3:], *tables)
        torch.testing.assert_close(out, expected, rtol=tolerance, atol=tolerance * expected.abs().max().item())
        probe = torch.randn(out.shape, generator=torch.Generator().manual_seed(1), dtype=dtype)
        grads = torch.autograd.grad(out, fused_inputs, probe)
        ref_grads = torch.autograd.grad(expected, ref_inputs, probe)
        for name, g, r in zip(("x", "sh", "w"), grads, ref_grads):
            scale = r.abs().max().item()  # float32 sums of many terms: compare relative to the largest
            torch.testing.assert_close(g, r, rtol=tolerance, atol=tolerance * scale, msg=f"gradient of {name}")
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("wanted", [(0,), (1,), (2,), (0, 2)])
def test_fused_gradients_of_some_inputs(wanted):
    """Only the inputs that require gradients get them (forces need x, sh and w; not all callers do)."""
    inputs, tables = _problem()
    fused_inputs = [t.clone().requires_grad_(i in wanted) for i, t in enumerate(inputs[:3])]
    ref_inputs = [t.clone().requires_grad_(i in wanted) for i, t in enumerate(inputs[:3])]
    out = tensor_product_scatter(*fused_inputs, *inputs[3:], *tables)
    expected = tensor_product_scatter_reference(*ref_inputs, *inputs[3:], *tables)
    probe = torch.randn_like(out)
    grads = torch.autograd.grad(out, [fused_inputs[i] for i in wanted], probe)
    ref_grads = torch.autograd.grad(expected, [ref_inputs[i] for i in wanted], probe)
    for g, r in zip(grads, ref_grads):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-11)


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("num_edges", [500, 130])
def test_pair_weights(threads, num_edges):
    """One weight row per pair (edges e and e + E/2): the same as the full weights repeated, and
    the weights' gradient sums both directions (130 edges: 65 pairs, split unevenly over threads)."""
    inputs, tables = _problem(num_edges=num_edges)
    x, sh, w, center, neighbor = inputs
    half = w[: num_edges // 2]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        fused_inputs = [t.clone().requires_grad_(True) for t in (x, sh, half)]
        ref_inputs = [t.clone().requires_grad_(True) for t in (x, sh, half)]
        out = tensor_product_scatter(*fused_inputs, center, neighbor, *tables, pair_weights=True)
        expected = tensor_product_scatter_reference(*ref_inputs, center, neighbor, *tables, pair_weights=True)
        repeated = tensor_product_scatter_reference(x, sh, torch.cat([half, half]), center, neighbor, *tables)
        torch.testing.assert_close(out, expected, rtol=0, atol=1e-11)
        torch.testing.assert_close(expected, repeated, rtol=0, atol=1e-12)
        probe = torch.randn_like(out)
        for g, r in zip(
            torch.autograd.grad(out, fused_inputs, probe), torch.autograd.grad(expected, ref_inputs, probe)
        ):
            torch.testing.assert_close(g, r, rtol=0, atol=1e-11)
    finally:
        torch.set_num_threads(previous)


def test_weights_shared_by_paths_or_unused():
    """Weight gradients are summed over the paths that share a column and zero where no path reads one."""
    (x, sh, w, center, neighbor), (paths, index, value, f_out) = _problem()
    shared = paths.clone()
    shared[4, 4] = shared[3, 4]  # path 4 reads path 3's weights
    w = torch.cat([w, torch.randn(w.shape[0], 2, dtype=w.dtype)], dim=1)  # two columns no path reads
    fused_w, ref_w = w.clone().requires_grad_(True), w.clone().requires_grad_(True)
    out = tensor_product_scatter(x, sh, fused_w, center, neighbor, shared, index, value, f_out)
    expected = tensor_product_scatter_reference(x, sh, ref_w, center, neighbor, shared, index, value, f_out)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-11)
    probe = torch.randn_like(out)
    (grad,), (ref_grad,) = torch.autograd.grad(out, fused_w, probe), torch.autograd.grad(expected, ref_w, probe)
    torch.testing.assert_close(grad, ref_grad, rtol=0, atol=1e-11)
    assert bool((grad[:, 14:18] == 0).all() and (grad[:, -2:] == 0).all())


@pytest.mark.parametrize("pair_weights", [False, True])
def test_fused_gradients_pass_gradcheck_to_third_order(pair_weights):
    """First derivatives, their derivatives (force training) and those of the second ones."""
    (x, sh, w, center, neighbor), tables = _problem(num_nodes=4, num_edges=10)
    leaves = [t.clone().requires_grad_(True) for t in (x, sh, w[:5] if pair_weights else w)]

    def fn(x, sh, w):
        return tensor_product_scatter(x, sh, w, center, neighbor, *tables, pair_weights=pair_weights)

    def gradients(x, sh, w):
        return torch.autograd.grad(fn(x, sh, w).square().sum(), (x, sh, w), create_graph=True)

    assert torch.autograd.gradcheck(fn, leaves)
    assert torch.autograd.gradgradcheck(fn, leaves)
    assert torch.autograd.gradgradcheck(gradients, leaves)


@pytest.mark.parametrize("layout", [NARROW, WIDE], ids=["narrow", "wide"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("wanted", [(0, 1, 2), (1, 2), (0,)])
@pytest.mark.parametrize("dtype,tolerance", [(torch.float64, 1e-10), (torch.float32, 1e-4)])
def test_second_derivatives_match_reference(threads, wanted, dtype, tolerance, layout):
    """A force-training-like loss: gradients with create_graph, a loss of them, its gradients
    with respect to every input and to the upstream gradient, with pair weights."""
    (x, sh, w, center, neighbor), tables = _problem(dtype, num_edges=300, layout=layout)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        results = []
        for op in (tensor_product_scatter, tensor_product_scatter_reference):
            leaves = [t.clone().requires_grad_(True) for t in (x, sh, w[:150])]
            probe = torch.randn(x.shape[0], tables[3], generator=torch.Generator().manual_seed(2), dtype=dtype)
            probe.requires_grad_(True)
            out = op(*leaves, center, neighbor, *tables, pair_weights=True)
            firsts = torch.autograd.grad(out, [leaves[i] for i in wanted], probe, create_graph=True)
            loss = sum((g.sin() * (k + 1)).sum() for k, g in enumerate(firsts))
            results.append(torch.autograd.grad(loss, [*leaves, probe], allow_unused=True))
        for name, got, expected in zip(("x", "sh", "w", "grad_out"), *results):
            if expected is None:  # linear in that input: its gradient does not depend on it
                assert got is None or bool((got == 0).all()), name
                continue
            scale = expected.abs().max().item()
            torch.testing.assert_close(got, expected, rtol=tolerance, atol=tolerance * scale, msg=name)
    finally:
        torch.set_num_threads(previous)


def test_second_derivatives_are_fused_operators():
    """The graph of a force-training step holds the two fused operators and no per-edge tensor."""
    (x, sh, w, center, neighbor), tables = _problem(num_edges=40)

    def training_step(x, sh, w):
        out = tensor_product_scatter(x, sh, w, center, neighbor, *tables)
        forces_like = torch.autograd.grad(out.square().sum(), (x, sh, w), create_graph=True)
        return torch.autograd.grad(sum(g.square().sum() for g in forces_like), (x, sh, w))

    leaves = [t.clone().requires_grad_(True) for t in (x, sh, w)]
    graph = torch.fx.experimental.proxy_tensor.make_fx(training_step)(*leaves).graph
    targets = [str(node.target) for node in graph.nodes if node.op == "call_function"]
    assert targets.count("nequip_kernels.tensor_product_scatter.default") >= 2
    assert "nequip_kernels.tensor_product_scatter_backward.default" in targets
    assert not any("index_add" in t or "bmm" in t for t in targets)


def test_operator_traces_as_one_call():
    """Registered with its shapes and gradient: compiled and traced graphs keep it as one operator,
    forward and backward."""
    inputs, tables = _problem(num_edges=40)

    def energy_like(x, sh, w):
        return tensor_product_scatter(x, sh, w, *inputs[3:], *tables).square().sum()

    def forces_like(x, sh, w):
        return torch.autograd.grad(energy_like(x, sh, w), (x, sh, w))

    leaves = [t.clone().requires_grad_(True) for t in inputs[:3]]
    expected = forces_like(*leaves)
    compiled = torch.compile(energy_like, backend="aot_eager", fullgraph=True)
    for g, r in zip(torch.autograd.grad(compiled(*leaves), leaves), expected):
        torch.testing.assert_close(g, r, rtol=0, atol=1e-12)
    graph = torch.fx.experimental.proxy_tensor.make_fx(forces_like)(*leaves).graph
    targets = {str(node.target) for node in graph.nodes if node.op == "call_function"}
    assert "nequip_kernels.tensor_product_scatter.default" in targets
    assert "nequip_kernels.tensor_product_scatter_backward.default" in targets


def test_no_edges_give_zeros():
    (x, sh, w, center, neighbor), tables = _problem()
    out = tensor_product_scatter(x, sh[:0], w[:0], center[:0], neighbor[:0], *tables)
    assert out.shape == (x.shape[0], tables[3]) and bool((out == 0).all())


def test_bad_inputs_are_named():
    (x, sh, w, center, neighbor), tables = _problem()
    paths, index, value, f_out = tables
    with pytest.raises(
        RuntimeError, match=r"edge indices must be in \[0, 9\), got centers in \[9, 9\] and neighbors in \[0, 8\]"
    ):
        tensor_product_scatter(x, sh, w, center.clone().fill_(9), neighbor, *tables)
    with pytest.raises(RuntimeError, match="must have one dtype"):
        tensor_product_scatter(x.float(), sh, w, center, neighbor, *tables)
    with pytest.raises(RuntimeError, match="w must have one row per edge, got 69 rows for 70 edges"):
        tensor_product_scatter(x, sh, w[:-1], center, neighbor, *tables)
    with pytest.raises(RuntimeError, match="with pair_weights, w must have one row per pair of edges .* got 70 rows"):
        tensor_product_scatter(x, sh, w, center, neighbor, *tables, pair_weights=True)
    with pytest.raises(RuntimeError, match="edge indices must be int64"):
        tensor_product_scatter(x, sh, w, center.int(), neighbor, *tables)
    wide = paths.clone()
    wide[0, 5] = f_out  # path 0 would write past the output's last column
    with pytest.raises(RuntimeError, match="path 0 reaches outside its tensors"):
        tensor_product_scatter(x, sh, w, center, neighbor, wide, index, value, f_out)
    negative = paths.clone()
    negative[2, 3] = -1
    with pytest.raises(RuntimeError, match="path 2 has a nonpositive size or a negative offset"):
        tensor_product_scatter(x, sh, w, center, neighbor, negative, index, value, f_out)
