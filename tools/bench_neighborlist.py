"""Neighbor-list libraries on the same periodic frames: vesin (ours), matscipy, ASE.

Run with any interpreter that has the three installed, e.g. a throwaway venv with
``nequip==0.19.1`` (which pulls matscipy and vesin):

    /tmp/upstream/bin/python tools/bench_neighborlist.py

Prints the median over repeats of the time to build a full neighbor list (i, j, S),
and checks that all libraries find the same number of edges.
"""

import statistics
import time

import ase.build


def frame(repeat, seed=0):
    atoms = ase.build.bulk("Cu", "fcc", a=3.61, cubic=True).repeat(repeat)
    atoms.rattle(0.1, seed=seed)
    return atoms


def vesin_nl(atoms, r_max):
    from vesin import NeighborList

    return NeighborList(cutoff=r_max, full_list=True, sorted=True).compute(
        atoms.positions, atoms.cell.array, atoms.pbc, "ijS"
    )


def matscipy_nl(atoms, r_max):
    from matscipy.neighbours import neighbour_list

    return neighbour_list("ijS", atoms, r_max)


def ase_nl(atoms, r_max):
    from ase.neighborlist import primitive_neighbor_list

    return primitive_neighbor_list("ijS", atoms.pbc, atoms.cell.array, atoms.positions, r_max, self_interaction=False)


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), len(result[0])


def main(r_max=5.0):
    print(f"r_max = {r_max} Å, median of repeats, milliseconds per frame")
    print(f"{'atoms':>7} {'edges':>9} {'vesin':>9} {'matscipy':>9} {'ase':>9} {'matscipy/vesin':>15}")
    for repeat, repeats in (((3, 3, 3), 21), ((6, 6, 7), 9), ((13, 14, 14), 5)):
        atoms = frame(repeat)
        results = {}
        for name, fn in (("vesin", vesin_nl), ("matscipy", matscipy_nl), ("ase", ase_nl)):
            n_rep = repeats if name != "ase" else max(2, repeats // 4)
            results[name] = median_time(lambda fn=fn, atoms=atoms: fn(atoms, r_max), n_rep)
        edges = {n for _, n in results.values()}
        if len(edges) != 1:
            counts = ", ".join(f"{name} {count}" for name, (_, count) in results.items())
            raise SystemExit(
                f"{len(atoms)} atoms: the libraries disagree on the number of edges ({counts}; tolerance: none)"
            )
        ms = {k: 1e3 * v[0] for k, v in results.items()}
        print(
            f"{len(atoms):>7} {edges.pop():>9} {ms['vesin']:>9.2f} {ms['matscipy']:>9.2f} {ms['ase']:>9.2f}"
            f" {ms['matscipy'] / ms['vesin']:>15.2f}"
        )


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    main()
