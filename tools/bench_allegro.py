"""Benchmark Allegro 0.8.3 on our packages against Allegro 0.8.3 on upstream NequIP 0.19.1, on CPU.

Usage (from the repository root)::

    python3 tools/bench_allegro.py --create-venvs          # builds the two venvs below (keeps existing ones)
    python3 tools/bench_allegro.py [--repeats 5] [--train-steps 20] [--md-steps 50] [--threads 1]
        [--ours-python /tmp/ours_allegro/bin/python] [--upstream-python /tmp/upstream_allegro/bin/python]
    python3 tools/bench_allegro.py --quick                  # one short run of each code: shows it works

The two environments hold the same unchanged ``nequip-allegro==0.8.3`` (installed with
``--no-deps``) and the same torch: ours is a venv of our wheels (nequip-data, nequip-nn,
nequip-potentials, nequip-models, built by ``uv build``) with hydra-core, which Allegro's model
module imports; upstream's is ``nequip==0.19.1`` with the torch of ours. ``--create-venvs``
makes both with uv (the workspace's own .venv is left alone); ours is a snapshot of the
sources when it was made: remove it and run ``--create-venvs`` again after changing them.

Model: ``allegro.model.AllegroModel`` with the hyperparameters of Allegro's tutorial config
(``l_max`` 2, 2 layers, 64 scalar and 32 tensor features, Allegro MLPs 2 x 128, ``r_max``
5 Å), float32, types C/H/O, fixed statistics (GFN2-xTB isolated-atom energies as shifts).
It is built once in our environment and saved; upstream's model is built with the same
hyperparameters and gets our weights (the module structure is Allegro's in both; the
parameter names of a few NequIP layers differ and are mapped by :func:`load_our_weights`).

Measured, each code in its own Python, one fresh worker process per code and repeat, the
codes alternating (the first code alternates too), ``--threads`` torch threads:

* training step: forward (energies and forces, the force graph kept), the loss (per-atom
  energy MSE + force MSE, the same code for both), ``backward`` and an Adam step, on a batch
  of ``--batch-frames`` xTB ethanol frames from data/xtb_ethanol.xyz (neighbor lists built
  once, before timing);
* MD step: velocity Verlet (dt 0.5 fs) with each code's ASE ``NequIPCalculator`` on its
  eager default path (ours: ``NequIPCalculator.from_checkpoint``; upstream's: the calculator
  around the model with upstream's ``basic_transforms``), neighbor list included, on 12
  ethanol molecules (108 atoms) in a periodic 10 x 10 x 15 Å box.

Parity: before timing, every worker reports the energy of the MD system, the energies and
the loss of the training batch and its number of trainable parameters; the benchmark stops
(``SystemExit``) if a code's energies or loss differ from the first worker's beyond
``ENERGY_RTOL`` (same weights, float32: only rounding may differ) or it trains another
number of parameters.
Reported: the median over repeats of each worker's median step time (process CPU time by
default, insensitive to other processes at one thread; ``--clock wall`` for wall time), and
the ratio upstream / ours (> 1: ours is faster).

This file runs under all three Pythons (the driver's and the two workers'): only the standard
library is imported at the top.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import UPSTREAM_RENAMES, peak_rss_mb

ROOT = Path(__file__).resolve().parents[1]
ETHANOL = ROOT / "data" / "xtb_ethanol.xyz"
ALLEGRO = "nequip-allegro==0.8.3"
UPSTREAM_NEQUIP = "nequip==0.19.1"
CODES = ("ours", "upstream")
TYPE_NAMES = ["C", "H", "O"]
R_MAX = 5.0
#: Allegro's tutorial hyperparameters, with fixed statistics
HYPERPARAMETERS = dict(
    seed=456,
    model_dtype="float32",
    type_names=TYPE_NAMES,
    r_max=R_MAX,
    l_max=2,
    parity=True,
    radial_chemical_embed={
        "_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
        "num_bessels": 8,
        "bessel_trainable": False,
        "polynomial_cutoff_p": 6,
    },
    radial_chemical_embed_dim=64,
    scalar_embed_mlp_hidden_layers_depth=1,
    scalar_embed_mlp_hidden_layers_width=64,
    scalar_embed_mlp_nonlinearity="silu",
    num_layers=2,
    num_scalar_features=64,
    num_tensor_features=32,
    allegro_mlp_hidden_layers_depth=2,
    allegro_mlp_hidden_layers_width=128,
    allegro_mlp_nonlinearity="silu",
    tp_path_channel_coupling=True,
    readout_mlp_hidden_layers_depth=1,
    readout_mlp_hidden_layers_width=32,
    readout_mlp_nonlinearity=None,
    avg_num_neighbors=12.0,
    # GFN2-xTB isolated-atom energies (eV), from data/xtb_ethanol.e0.json
    per_type_energy_shifts={"C": -48.79807984748428, "H": -10.707211383283003, "O": -102.5218071447532},
    per_type_energy_scales=1.0,
)
#: the MD system: ethanol molecules (frames of data/xtb_ethanol.xyz) on a grid of this shape, this far apart (Å)
MD_GRID, MD_SPACING = (2, 2, 3), 5.0
#: same weights in float32: energies and losses within this fraction of the first worker's
ENERGY_RTOL = 1e-5


# ---------------------------------------------------------------------------------------
# environments


def create_venvs(ours: Path, upstream: Path) -> None:
    """Build the venvs that do not exist yet: ours (our wheels, built now, + hydra-core + Allegro) and
    upstream's (NequIP 0.19.1 + the torch of ours + Allegro). Existing ones are kept as they are."""
    uv = os.environ.get("UV", "uv")
    python, upstream_python = str(ours / "bin" / "python"), str(upstream / "bin" / "python")
    if ours.exists():
        print(f"kept {ours} (remove it to rebuild it from the current sources)", flush=True)
    else:
        with tempfile.TemporaryDirectory() as wheels:
            subprocess.run(
                [uv, "build", "--all-packages", "--wheel", "--out-dir", wheels, "--quiet"], cwd=ROOT, check=True
            )
            ours_wheels = [
                str(path)
                for path in Path(wheels).glob("*.whl")
                if path.name.split("-")[0] in ("nequip_data", "nequip_nn", "nequip_potentials", "nequip_models")
            ]
            subprocess.run([uv, "venv", "--quiet", "--python", "3.11", str(ours)], check=True)
            subprocess.run(
                [uv, "pip", "install", "--quiet", "--python", python, *ours_wheels, "hydra-core"], check=True
            )
        subprocess.run([uv, "pip", "install", "--quiet", "--python", python, "--no-deps", ALLEGRO], check=True)
    torch_version = subprocess.run(
        [python, "-c", "import torch; print(torch.__version__.split('+')[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if upstream.exists():
        print(f"kept {upstream}", flush=True)
    else:
        subprocess.run([uv, "venv", "--quiet", "--python", "3.11", str(upstream)], check=True)
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", upstream_python, UPSTREAM_NEQUIP, f"torch=={torch_version}"],
            check=True,
        )
        subprocess.run([uv, "pip", "install", "--quiet", "--python", upstream_python, "--no-deps", ALLEGRO], check=True)
    print(f"venvs ready: {ours} (ours), {upstream} (upstream), torch {torch_version}, {ALLEGRO}", flush=True)


# ---------------------------------------------------------------------------------------
# preparation (our environment)


def prepare(workdir: str) -> dict:
    """Our model's checkpoint and weights, the MD system and the training frames, written to ``workdir``."""
    import ase.io
    import numpy as np
    import torch
    from allegro.model import AllegroModel

    from nequip.model import save_model_checkpoint

    frames = ase.io.read(str(ETHANOL), index=":")
    nx, ny, nz = MD_GRID
    system = None
    for index, offset in enumerate((i, j, k) for i in range(nx) for j in range(ny) for k in range(nz)):
        molecule = frames[index].copy()
        molecule.calc = None
        molecule.positions += MD_SPACING * (np.array(offset) + 0.5)
        system = molecule if system is None else system + molecule
    system.cell = [MD_SPACING * nx, MD_SPACING * ny, MD_SPACING * nz]
    system.pbc = True
    md_path = os.path.join(workdir, "md_system.extxyz")
    ase.io.write(md_path, system)

    model = AllegroModel(**HYPERPARAMETERS)
    checkpoint = os.path.join(workdir, "ours.ckpt")
    save_model_checkpoint(checkpoint, model)
    weights = os.path.join(workdir, "ours_weights.pt")
    torch.save({name: param.detach() for name, param in model.named_parameters()}, weights)
    return {"md_system": md_path, "checkpoint": checkpoint, "weights": weights}


# ---------------------------------------------------------------------------------------
# workers


def load_our_weights(model, path: str) -> None:
    """Copy our parameters into upstream's Allegro model, by name.

    Upstream's names map to ours by nequip-models' table (``benchlib.UPSTREAM_RENAMES``) and
    one more rule: upstream stores a bias-free MLP without nonlinearity of more than one layer
    (``DeepLinearMLP``, e.g. Allegro's readout with ``readout_mlp_nonlinearity: null``) as
    ``weights.K``, ours as layer ``K`` of the sequence (``K.weight``).

    Raises:
        ValueError: for a parameter whose size differs, or our parameters left without an
            upstream counterpart.
    """
    import torch

    ours = torch.load(path, weights_only=True)
    mapped = set()
    with torch.no_grad():
        for name, param in model.named_parameters():
            our_name = name
            for theirs, mine in UPSTREAM_RENAMES:
                our_name = our_name.replace(theirs, mine)
            our_name = re.sub(r"\.weights\.(\d+)$", r".\1.weight", our_name)
            value = ours[our_name]
            if value.numel() != param.numel():
                raise ValueError(f"{name}: upstream has {tuple(param.shape)}, ours {tuple(value.shape)}")
            param.copy_(value.reshape(param.shape))
            mapped.add(our_name)
    unmapped = sorted(set(ours) - mapped)
    if unmapped:
        raise ValueError(f"our parameters without an upstream counterpart: {unmapped}")


def _models(spec: dict):
    """(a model to train, an ASE calculator) of the worker's code, both with the shared weights."""
    if spec["code"] == "ours":
        from nequip.integrations.ase import NequIPCalculator
        from nequip.model import ModelFromCheckpoint

        return ModelFromCheckpoint(spec["checkpoint"]), NequIPCalculator.from_checkpoint(spec["checkpoint"])
    from nequip.utils.global_state import set_global_state

    set_global_state()
    from allegro.model import AllegroModel

    from nequip.integrations.ase import NequIPCalculator
    from nequip.integrations.utils import basic_transforms

    models = []
    for _ in range(2):
        model = AllegroModel(**HYPERPARAMETERS)
        load_our_weights(model, spec["weights"])
        models.append(model)
    transforms = basic_transforms(models[1].metadata, R_MAX, TYPE_NAMES, {t: t for t in TYPE_NAMES})
    return models[0], NequIPCalculator(models[1].eval(), device="cpu", transforms=transforms)


def _training_batch(num_frames: int):
    """The first ``num_frames`` ethanol frames with neighbor lists, batched by the worker's code."""
    import ase.io

    from nequip.data import AtomicDataDict, from_ase
    from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

    to_types = ChemicalSpeciesToAtomTypeMapper(
        model_type_names=TYPE_NAMES, chemical_species_to_atom_type_map={t: t for t in TYPE_NAMES}
    )
    neighbors = NeighborListTransform(r_max=R_MAX)
    frames = [neighbors(to_types(from_ase(atoms))) for atoms in ase.io.read(str(ETHANOL), index=f":{num_frames}")]
    return AtomicDataDict.batched_from_list(frames)


def _training_step(model, optimizer, batch) -> tuple:
    """One training step; returns (loss, predicted total energies) before the update."""
    import torch

    from nequip.data import AtomicDataDict

    out = model(dict(batch))
    atoms_per_frame = batch[AtomicDataDict.NUM_NODES_KEY].to(torch.float64)
    energy = out[AtomicDataDict.TOTAL_ENERGY_KEY].to(torch.float64).reshape(-1)
    reference = batch[AtomicDataDict.TOTAL_ENERGY_KEY].to(torch.float64).reshape(-1)
    forces = out[AtomicDataDict.FORCE_KEY].to(torch.float64)
    loss = (((energy - reference) / atoms_per_frame) ** 2).mean() + (
        (forces - batch[AtomicDataDict.FORCE_KEY]) ** 2
    ).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach()), energy.detach().tolist()


def _clock(kind: str) -> float:
    return time.process_time() if kind == "cpu" else time.perf_counter()


def worker(spec: dict) -> dict:
    """Parity values, then the median seconds of a training step and of an MD step."""
    import ase.io
    import numpy as np
    import torch
    from ase import units
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution
    from ase.md.verlet import VelocityVerlet

    torch.set_num_threads(spec["threads"])
    train_model, calculator = _models(spec)
    atoms = ase.io.read(spec["md_system"])
    atoms.calc = calculator
    md_energy = float(atoms.get_potential_energy())
    train_model.train()
    optimizer = torch.optim.Adam(train_model.parameters(), lr=1e-3)
    batch = _training_batch(spec["batch_frames"])
    loss, batch_energies = _training_step(train_model, optimizer, batch)  # the first step is the parity check
    train_times = []
    for step in range(1 + spec["train_steps"]):  # one more warm-up step, then the timed ones
        start = _clock(spec["clock"])
        _training_step(train_model, optimizer, batch)
        if step > 0:
            train_times.append(_clock(spec["clock"]) - start)

    MaxwellBoltzmannDistribution(atoms, temperature_K=300, rng=np.random.default_rng(0))
    dynamics = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    dynamics.run(2)  # warm-up
    md_times = []
    for _ in range(spec["md_steps"]):
        start = _clock(spec["clock"])
        dynamics.run(1)
        md_times.append(_clock(spec["clock"]) - start)
    return {
        "trainable_parameters": sum(p.numel() for p in train_model.parameters() if p.requires_grad),
        "md_energy": md_energy,
        "loss": loss,
        "batch_energies": batch_energies,
        "train_step_s": statistics.median(train_times),
        "md_step_s": statistics.median(md_times),
        "peak_rss_mb": peak_rss_mb(),
    }


def _run_worker(python: str, spec: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(spec["threads"]), PYTHONWARNINGS="ignore")
    result = subprocess.run(
        [python, os.path.abspath(__file__), "--worker", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=spec["workdir"],
    )
    if result.returncode != 0:
        raise RuntimeError(f"the {spec['code']} worker failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------
# driver


def _check_parity(code: str, result: dict, reference: dict) -> None:
    """Stop when ``code``'s energies or loss differ from the first worker's beyond ``ENERGY_RTOL``."""
    first_code, first = reference.setdefault("first", (code, result))
    if result["trainable_parameters"] != first["trainable_parameters"]:
        raise SystemExit(
            f"{code} trains {result['trainable_parameters']} parameters, {first_code} "
            f"{first['trainable_parameters']}: the training steps would not do the same work"
        )
    values = [("MD energy (eV)", result["md_energy"], first["md_energy"]), ("loss", result["loss"], first["loss"])]
    values += [
        (f"batch energy {i} (eV)", mine, theirs)
        for i, (mine, theirs) in enumerate(zip(result["batch_energies"], first["batch_energies"]))
    ]
    for name, mine, theirs in values:
        tolerance = ENERGY_RTOL * max(abs(theirs), 1.0)
        if not abs(mine - theirs) <= tolerance:
            raise SystemExit(
                f"{name}: {code} gives {mine:.8g}, {first_code} gave {theirs:.8g} (difference {abs(mine - theirs):.2e}, "
                f"tolerance {tolerance:.2e}); the weights are shared, so the models differ"
            )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ours-python", default="/tmp/ours_allegro/bin/python")
    parser.add_argument("--upstream-python", default="/tmp/upstream_allegro/bin/python")
    parser.add_argument("--create-venvs", action="store_true", help="build the missing venvs and stop")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5, help="worker processes per code, alternating")
    parser.add_argument("--train-steps", type=int, default=20, help="timed training steps per worker")
    parser.add_argument("--md-steps", type=int, default=50, help="timed MD steps per worker")
    parser.add_argument("--batch-frames", type=int, default=5, help="ethanol frames per training batch")
    parser.add_argument("--clock", choices=["cpu", "wall"], default="cpu")
    parser.add_argument("--quick", action="store_true", help="1 repeat, 3 training and 5 MD steps: shows it works")
    args = parser.parse_args(argv)
    pythons = {"ours": args.ours_python, "upstream": args.upstream_python}
    if args.create_venvs:
        create_venvs(*(Path(python).parents[1] for python in pythons.values()))
        return
    for code, python in pythons.items():
        if not Path(python).exists():
            parser.error(f"--{code}-python {python} does not exist; make the venvs with --create-venvs")
    if args.quick:
        args.repeats, args.train_steps, args.md_steps = 1, 3, 5

    workdir = tempfile.mkdtemp(prefix="bench_allegro_")
    prepared = json.loads(
        subprocess.run(
            [args.ours_python, os.path.abspath(__file__), "--prepare", workdir],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()[-1]
    )
    spec = dict(
        prepared,
        workdir=workdir,
        threads=args.threads,
        train_steps=args.train_steps,
        md_steps=args.md_steps,
        batch_frames=args.batch_frames,
        clock=args.clock,
    )
    print(
        f"Allegro 0.8.3 (tutorial hyperparameters, float32); threads {args.threads}; {args.repeats} workers per code; "
        f"median {args.clock} time; training batch {args.batch_frames} ethanol frames; MD 108 atoms",
        flush=True,
    )
    times = {code: {"train_step_s": [], "md_step_s": []} for code in CODES}
    reference = {}
    for repeat in range(args.repeats):
        order = CODES if repeat % 2 == 0 else CODES[::-1]
        for code in order:
            result = _run_worker(pythons[code], {**spec, "code": code})
            _check_parity(code, result, reference)
            for key in times[code]:
                times[code][key].append(result[key])
            print(
                f"# repeat {repeat} {code}: {result['trainable_parameters']} trainable parameters; training step {result['train_step_s'] * 1e3:.1f} ms, MD step "
                f"{result['md_step_s'] * 1e3:.1f} ms, MD energy {result['md_energy']:.5f} eV, loss {result['loss']:.6g}, "
                f"peak RSS {result['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    print(f"\n{'':14} {'ours (ms)':>10} {'upstream (ms)':>14} {'upstream/ours':>14}")
    for key, label in (("train_step_s", "training step"), ("md_step_s", "MD step")):
        ours, upstream = (statistics.median(times[code][key]) for code in CODES)
        print(f"{label:14} {ours * 1e3:10.2f} {upstream * 1e3:14.2f} {upstream / ours:13.2f}x")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(worker(json.loads(sys.argv[2]))), flush=True)
    elif len(sys.argv) == 3 and sys.argv[1] == "--prepare":
        print(json.dumps(prepare(sys.argv[2])), flush=True)
    else:
        main()
