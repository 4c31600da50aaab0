"""Data-preparation throughput, ours vs upstream NequIP 0.19, on the same extxyz frames.

The pipeline is what training runs before the model: read the file
(``nequip.data.dataset.ASEDataset``), map species to types, build the neighbor list
(``ChemicalSpeciesToAtomTypeMapper`` + ``NeighborListTransform``) and collate batches
(``AtomicDataDict.batched_from_list``). Both packages have these public names, so the same
worker code runs under either interpreter.

    uv run python tools/bench_data.py --upstream-python /tmp/upstream/bin/python

(the upstream interpreter is a throwaway venv with ``nequip==0.19.1`` and our torch version).
Each measurement runs in a fresh process, is repeated, and the median is reported.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {  # name: (fcc supercell repeat, number of frames, batch size)
    "108 atoms": ((3, 3, 3), 200, 5),
    "10,192 atoms": ((13, 14, 14), 6, 1),
}
R_MAX = 5.0


def write_frames(path: Path, repeat, num_frames, seed=0):
    import ase.build
    import ase.io
    import numpy as np
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(seed)
    base = ase.build.bulk("Cu", "fcc", a=3.61, cubic=True).repeat(repeat)
    frames = []
    for _ in range(num_frames):
        atoms = base.copy()
        atoms.set_chemical_symbols(rng.choice(["Cu", "Au"], size=len(atoms)))
        atoms.positions += rng.normal(0, 0.1, atoms.positions.shape)
        atoms.calc = SinglePointCalculator(
            atoms, energy=float(rng.normal()), forces=rng.normal(size=(len(atoms), 3)), stress=rng.normal(size=6)
        )
        frames.append(atoms)
    ase.io.write(path, frames, format="extxyz")


def run_pipeline(path: str, batch_size: int) -> dict:
    """Worker: one timed pass of read + transforms + collate; returns seconds and counts."""
    start = time.perf_counter()
    from nequip.data import AtomicDataDict
    from nequip.data.dataset import ASEDataset
    from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

    imported = time.perf_counter()
    dataset = ASEDataset(
        file_path=path,
        transforms=[
            ChemicalSpeciesToAtomTypeMapper(
                model_type_names=["Cu", "Au"], chemical_species_to_atom_type_map={"Cu": "Cu", "Au": "Au"}
            ),
            NeighborListTransform(r_max=R_MAX),
        ],
    )
    frames = [dataset[i] for i in range(len(dataset))]
    batches = [AtomicDataDict.batched_from_list(frames[i : i + batch_size]) for i in range(0, len(frames), batch_size)]
    done = time.perf_counter()
    edges = sum(AtomicDataDict.num_edges(b) for b in batches)
    return {"seconds": done - imported, "import_seconds": imported - start, "frames": len(frames), "edges": edges}


def measure(python: str, path: Path, batch_size: int, repeats: int) -> list:
    results = []
    for _ in range(repeats):
        out = subprocess.run(
            [python, __file__, "--worker", str(path), str(batch_size)], check=True, capture_output=True, text=True
        ).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upstream-python", default="/tmp/upstream/bin/python")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--worker", nargs=2, metavar=("FILE", "BATCH_SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_pipeline(args.worker[0], int(args.worker[1]))))
        return

    print(f"data preparation (read + type map + neighbor list r_max={R_MAX} + collate), median of {args.repeats}")
    print(f"{'case':>14} {'frames':>7} {'edges ours/up':>19} {'ours fr/s':>10} {'upstream fr/s':>14} {'ratio':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (repeat, num_frames, batch_size) in CASES.items():
            path = Path(tmp) / f"{name.split()[0].replace(',', '')}.xyz"
            write_frames(path, repeat, num_frames)
            ours = measure(sys.executable, path, batch_size, args.repeats)
            upstream = measure(args.upstream_python, path, batch_size, args.repeats)
            edges_ours, edges_up = ours[0]["edges"], upstream[0]["edges"]
            if abs(edges_ours - edges_up) > 1e-5 * edges_up:  # pairs at r_max to round-off may differ
                raise RuntimeError(
                    f"{name}: edge counts differ: ours {edges_ours}, upstream {edges_up} (tolerance 1e-5 relative)"
                )
            fps_ours = num_frames / statistics.median(r["seconds"] for r in ours)
            fps_up = num_frames / statistics.median(r["seconds"] for r in upstream)
            print(
                f"{name:>14} {num_frames:>7} {f'{edges_ours}/{edges_up}':>19} {fps_ours:>10.1f} {fps_up:>14.1f} {fps_ours / fps_up:>7.2f}"
            )


if __name__ == "__main__":
    main()
