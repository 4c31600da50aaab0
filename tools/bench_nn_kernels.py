"""Benchmark nequip-nn's interaction block (and its convolution kernel) against upstream NequIP 0.19.

Usage (from the repository root)::

    uv run python tools/bench_nn_kernels.py                      # full table (several minutes)
    uv run python tools/bench_nn_kernels.py --quick              # 2 cases
    uv run python tools/bench_nn_kernels.py --upstream-python /tmp/upstream/bin/python

Each case starts two fresh worker processes, ours with this interpreter and upstream's
with ``--upstream-python`` (a virtual environment with ``nequip==0.19.1`` and the same
torch as our lock), and times them alternately, run by run, so that both see the same
machine load. A worker builds the same interaction block in both codes
(NequIP hidden layer: features ``mul x (0e + 1o [+ 2e])``, output with the gate scalars,
8 Bessel edge features, radial MLP 1 x 128, type-embedding self-connection), random
graphs with about 25 neighbors per atom, and times ``forward`` and ``forward + backward``
(gradients of the node features, edge attributes and weights, as for forces and
training): one warm-up, then ``--repeats`` runs, median. With one thread (the default)
the time is the worker thread's CPU time (user + system, page faults included), which
other processes on a shared machine do not inflate; with more threads, wall time. Peak memory is the growth of the
worker's maximum resident set size (``ru_maxrss``) over the timed runs, measured after
setup, so it covers the largest single forward (+ backward) including allocator effects
(``tracemalloc`` does not see torch's CPU allocations).

A second table compares the two scatter-sum backends of ``nequip.nn.kernels.scatter``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchlib import peak_rss_mb

CASES = [(l_max, mul, edges) for l_max in (1, 2) for mul in (32, 64) for edges in (5000, 50000)]
QUICK_CASES = [(1, 32, 5000), (2, 64, 50000)]


def build(impl: str, l_max: int, mul: int, edges: int, threads: int, seed: int = 0):
    """Build one interaction block and its inputs; return ``run(backward) -> seconds``."""
    import torch
    from e3nn import o3

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    if impl == "upstream":
        from nequip.data import AtomicDataDict as K
        from nequip.nn import InteractionBlock

        keys = K
    else:
        from nequip.data import keys
        from nequip.nn.interaction import InteractionBlock

    num_types, num_bessels = 4, 8
    nodes = max(edges // 25, 2)
    hidden = o3.Irreps([(mul, (deg, (-1) ** deg)) for deg in range(l_max + 1)])
    conv_out = o3.Irreps([(mul * (l_max + 1), (0, 1))] + [(mul, (deg, (-1) ** deg)) for deg in range(1, l_max + 1)])
    irreps_in = {
        keys.NODE_FEATURES_KEY: hidden,
        keys.NODE_ATTRS_KEY: o3.Irreps(f"{mul}x0e"),
        keys.EDGE_ATTRS_KEY: o3.Irreps.spherical_harmonics(l_max),
        keys.EDGE_EMBEDDING_KEY: o3.Irreps(f"{num_bessels}x0e"),
        keys.POSITIONS_KEY: o3.Irreps("1o"),
        keys.EDGE_INDEX_KEY: None,
        keys.ATOM_TYPE_KEY: None,
    }
    type_names = [f"T{i}" for i in range(num_types)]
    block = InteractionBlock(
        irreps_in=irreps_in,
        irreps_out=conv_out,
        radial_mlp_depth=1,
        radial_mlp_width=128,
        use_sc=True,
        avg_num_neighbors=edges / nodes,
        type_names=type_names,
    )
    gen = torch.Generator().manual_seed(seed)
    centers = torch.sort(torch.randint(0, nodes, (edges,), generator=gen)).values
    neighbors = torch.randint(0, nodes, (edges,), generator=gen)
    vectors = torch.randn(edges, 3, generator=gen)
    data = {
        keys.POSITIONS_KEY: torch.randn(nodes, 3, generator=gen),
        keys.ATOM_TYPE_KEY: torch.randint(0, num_types, (nodes,), generator=gen),
        keys.EDGE_INDEX_KEY: torch.stack([centers, neighbors]),
        keys.NODE_FEATURES_KEY: torch.randn(nodes, hidden.dim, generator=gen),
        keys.NODE_ATTRS_KEY: torch.randn(nodes, mul, generator=gen),
        keys.EDGE_ATTRS_KEY: o3.spherical_harmonics(irreps_in[keys.EDGE_ATTRS_KEY], vectors, True, "component"),
        keys.EDGE_EMBEDDING_KEY: torch.rand(edges, num_bessels, generator=gen),
    }
    grad_fields = (keys.NODE_FEATURES_KEY, keys.EDGE_ATTRS_KEY, keys.EDGE_EMBEDDING_KEY)
    # one thread: CPU time of this thread (robust when other processes share the cores)
    clock = time.thread_time if threads == 1 else time.perf_counter

    def run(backward: bool) -> float:
        inputs = dict(data)
        if backward:
            for field in grad_fields:
                inputs[field] = data[field].clone().requires_grad_(True)
        start = clock()
        out = block(inputs)[keys.NODE_FEATURES_KEY]
        if backward:
            out.square().sum().backward()
        return clock() - start

    def timed(backward: bool) -> float:
        with torch.enable_grad() if backward else torch.no_grad():
            return run(backward)

    return timed


def serve(impl: str, l_max: int, mul: int, edges: int, threads: int) -> None:
    """Worker loop: build, then answer "fwd" / "fwd_bwd" lines with one timed run each.

    Each answer is a JSON line with the time (s) and the growth of the process's maximum
    resident set size since the block and its inputs were built (MB).
    """
    timed = build(impl, l_max, mul, edges, threads)
    base = peak_rss_mb()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            return
        seconds = timed(command == "fwd_bwd")
        print(json.dumps({"seconds": seconds, "peak_mb": peak_rss_mb() - base}), flush=True)


def measure(case, upstream_python: str, repeats: int, threads: int) -> dict:
    """Time both implementations of one case in two live workers, alternating run by run."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    workers = {}
    for impl, python in (("ours", sys.executable), ("upstream", upstream_python)):
        command = [python, os.path.abspath(__file__), "--serve", impl, *map(str, case), "--threads", str(threads)]
        workers[impl] = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd="/"
        )

    def ask(impl: str, command: str) -> dict:
        proc = workers[impl]
        if command:
            proc.stdin.write(command + "\n")
            proc.stdin.flush()
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{impl} worker for case {case} failed:\n{proc.stderr.read()[-3000:]}")
        return json.loads(line)

    try:
        for impl in workers:
            ask(impl, "")  # wait until built
        results = {impl: {} for impl in workers}
        for mode in ("fwd", "fwd_bwd"):
            for impl in workers:
                ask(impl, mode)  # warm-up
            times = {impl: [] for impl in workers}
            peak = {}
            for r in range(repeats):
                for impl in ("ours", "upstream") if r % 2 == 0 else ("upstream", "ours"):
                    answer = ask(impl, mode)
                    times[impl].append(answer["seconds"])
                    peak[impl] = answer["peak_mb"]
            for impl in workers:
                results[impl][f"{mode}_ms"] = 1e3 * statistics.median(times[impl])
                results[impl][f"{mode}_peak_mb"] = peak[impl]
        return results
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                proc.stdin.write("quit\n")
                proc.stdin.close()
                proc.wait(timeout=60)


def scatter_table(repeats: int, threads: int) -> None:
    """index_add_ vs torch-scatter for edge -> atom sums."""
    import torch

    from nequip.nn.kernels.scatter import HAS_TORCH_SCATTER, scatter_sum

    torch.set_num_threads(threads)
    if not HAS_TORCH_SCATTER:
        print("torch-scatter is not installed: scatter comparison skipped")
        return
    print(f"\nscatter-sum, {threads} thread(s), thread CPU time, median of {repeats} (ms)")
    print(f"{'rows':>7} {'cols':>5} {'index':>8} | {'index_add':>9} {'torch_scatter':>13} {'ratio ts/ia':>11}")
    gen = torch.Generator().manual_seed(0)
    for rows, cols in ((50000, 1), (50000, 32), (50000, 288), (50000, 1120)):
        src = torch.randn(rows, cols, generator=gen)
        for order in ("sorted", "random"):
            index = torch.randint(0, rows // 25, (rows,), generator=gen)
            if order == "sorted":
                index = torch.sort(index).values
            timing = {}
            for backend in ("index_add", "torch_scatter"):
                scatter_sum(src, index, rows // 25, backend=backend)
                times = []
                for _ in range(repeats):
                    start = time.thread_time()
                    scatter_sum(src, index, rows // 25, backend=backend)
                    times.append(time.thread_time() - start)
                timing[backend] = 1e3 * statistics.median(times)
            ratio = timing["torch_scatter"] / timing["index_add"]
            ia, ts = timing["index_add"], timing["torch_scatter"]
            print(f"{rows:>7} {cols:>5} {order:>8} | {ia:>9.2f} {ts:>13.2f} {ratio:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream-python", default="/tmp/upstream/bin/python")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads in the workers (default 1: stable timings)"
    )
    parser.add_argument("--quick", action="store_true", help="only two cases")
    parser.add_argument("--serve", nargs=4, metavar=("IMPL", "LMAX", "MUL", "EDGES"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve:
        impl, l_max, mul, edges = args.serve
        serve(impl, int(l_max), int(mul), int(edges), args.threads)
        return

    if args.repeats < 5:
        parser.error(f"--repeats must be at least 5, got {args.repeats}")
    if not os.path.exists(args.upstream_python):
        parser.error(f"--upstream-python {args.upstream_python} does not exist (a venv with nequip==0.19.1)")
    cases = QUICK_CASES if args.quick else CASES
    header = (
        f"{'l_max':>5} {'mul':>4} {'edges':>6} | {'fwd ms ours/up':>17} {'ratio':>6} | "
        f"{'fwd+bwd ms ours/up':>19} {'ratio':>6} | {'peak MB ours/up':>16} {'ratio':>6}"
    )
    clock = "thread CPU time" if args.threads == 1 else "wall time"
    print(f"interaction block, {args.threads} thread(s), {clock}, median of {args.repeats}; ratio = ours / upstream")
    print(header)
    print("-" * len(header))
    for l_max, mul, edges in cases:
        results = measure((l_max, mul, edges), args.upstream_python, args.repeats, args.threads)
        ours, up = results["ours"], results["upstream"]
        print(
            f"{l_max:>5} {mul:>4} {edges:>6} | "
            f"{ours['fwd_ms']:>8.1f}/{up['fwd_ms']:<8.1f} {ours['fwd_ms'] / up['fwd_ms']:>6.2f} | "
            f"{ours['fwd_bwd_ms']:>9.1f}/{up['fwd_bwd_ms']:<9.1f} {ours['fwd_bwd_ms'] / up['fwd_bwd_ms']:>6.2f} | "
            f"{ours['fwd_bwd_peak_mb']:>7.0f}/{up['fwd_bwd_peak_mb']:<8.0f} "
            f"{ours['fwd_bwd_peak_mb'] / max(up['fwd_bwd_peak_mb'], 1e-9):>6.2f}",
            flush=True,
        )
    scatter_table(args.repeats, args.threads)


if __name__ == "__main__":
    main()
