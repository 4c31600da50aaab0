"""Write the upstream-checkpoint test fixture: a tiny NequIPGNNModel trained for one epoch by upstream NequIP 0.19.1.

Run it with the Python of a throwaway environment holding upstream NequIP (never this workspace's):

    uv venv /tmp/upstream && VIRTUAL_ENV=/tmp/upstream uv pip install nequip==0.19.1 torch==2.15.0
    /tmp/upstream/bin/python tools/make_upstream_checkpoint.py

It trains, with upstream's ``nequip-train``, a float64 two-type (Cu, Au) model with EMA weights on
upstream's own EMT test data set for one epoch, then writes into packages/nequip-models/tests/data/:

* ``upstream_0_19_1_nequip_gnn.ckpt``: the ``best.ckpt`` that run wrote, unchanged;
* ``upstream_0_19_1_nequip_gnn_reference.json``: a few fixed structures (periodic, mixed and
  non-periodic) with the total energy, forces and stress that upstream's own
  ``ModelFromCheckpoint`` gives for them (eV, eV/Å, eV/Å³; ASE's stress sign).

``packages/nequip-models/tests/test_upstream_checkpoint.py`` checks that our
``ModelFromCheckpoint`` gives the same numbers.
"""

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT_DIR = ROOT / "packages" / "nequip-models" / "tests" / "data"
CHECKPOINT_NAME = "upstream_0_19_1_nequip_gnn.ckpt"
REFERENCE_NAME = "upstream_0_19_1_nequip_gnn_reference.json"

CONFIG = """
run: [train]
seed: 7
cutoff_radius: 4.0
model_type_names: [Cu, Au]
data:
  _target_: nequip.data.datamodule.NequIPDataModule
  seed: ${seed}
  split_dataset:
    dataset:
      _target_: nequip.data.dataset.ASEDataset
      file_path: DATA_FILE
      transforms:
        - _target_: nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper
          model_type_names: ${model_type_names}
          chemical_species_to_atom_type_map: ${list_to_identity_dict:${model_type_names}}
        - _target_: nequip.data.transforms.NeighborListTransform
          r_max: ${cutoff_radius}
    train: 6
    val: 2
  train_dataloader: {_target_: torch.utils.data.DataLoader, batch_size: 2}
  val_dataloader: {_target_: torch.utils.data.DataLoader, batch_size: 2}
  stats_manager:
    _target_: nequip.data.CommonDataStatisticsManager
    type_names: ${model_type_names}
trainer:
  _target_: lightning.Trainer
  accelerator: cpu
  max_epochs: 1
  enable_progress_bar: false
  logger: false
  callbacks:
    - _target_: lightning.pytorch.callbacks.ModelCheckpoint
      monitor: val0_epoch/weighted_sum
      dirpath: ${hydra:runtime.output_dir}
      filename: best
training_module:
  _target_: nequip.train.EMALightningModule
  ema_decay: 0.9
  loss:
    _target_: nequip.train.EnergyForceLoss
    per_atom_energy: true
    coeffs: {total_energy: 1.0, forces: 1.0}
  val_metrics:
    _target_: nequip.train.EnergyForceMetrics
    coeffs: {total_energy_mae: 1.0, forces_mae: 1.0}
  optimizer: {_target_: torch.optim.Adam, lr: 0.01}
  model:
    _target_: nequip.model.NequIPGNNModel
    seed: ${seed}
    model_dtype: float64
    type_names: ${model_type_names}
    r_max: ${cutoff_radius}
    l_max: 1
    parity: true
    num_layers: 2
    num_features: 8
    radial_mlp_depth: 1
    radial_mlp_width: 16
    avg_num_neighbors: ${training_data_stats:num_neighbors_mean}
    per_type_energy_shifts: {Cu: 0.21, Au: 0.37}
    per_type_energy_scales: ${training_data_stats:per_type_forces_rms}
    per_type_energy_scales_trainable: true
    per_type_energy_shifts_trainable: true
"""


def reference_structures():
    """Fixed structures: a rattled periodic alloy, a slab periodic in x and y only, and a free cluster."""
    import ase.build

    rng = np.random.default_rng(2024)
    bulk = ase.build.bulk("Cu", "fcc", a=3.6, cubic=True).repeat((2, 2, 1))
    bulk.symbols[[1, 4, 6, 11]] = "Au"
    bulk.positions += rng.normal(scale=0.1, size=bulk.positions.shape)
    slab = ase.build.fcc111("Au", size=(2, 2, 2), vacuum=4.0, a=4.0)
    slab.symbols[[0, 5]] = "Cu"
    slab.pbc = (True, True, False)
    slab.positions += rng.normal(scale=0.05, size=slab.positions.shape)
    cluster = ase.Atoms("Cu3Au2", positions=rng.uniform(0.0, 4.0, size=(5, 3)))
    return [bulk, slab, cluster]


def upstream_predictions(checkpoint: str):
    """Energies, forces and stress of upstream's ModelFromCheckpoint on the reference structures."""
    import torch

    from nequip.data import AtomicDataDict, from_ase
    from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform
    from nequip.model import ModelFromCheckpoint
    from nequip.utils.global_state import set_global_state

    set_global_state()  # upstream builds models only after this (float64 data, TF32 settings)
    model = ModelFromCheckpoint(checkpoint)["sole_model"].eval()
    mapper = ChemicalSpeciesToAtomTypeMapper(
        model_type_names=["Cu", "Au"], chemical_species_to_atom_type_map={"Cu": "Cu", "Au": "Au"}
    )
    neighbors = NeighborListTransform(r_max=4.0)
    frames = []
    for atoms in reference_structures():
        data = neighbors(mapper(from_ase(atoms)))
        out = model(data)
        frame = {
            "symbols": atoms.get_chemical_symbols(),
            "positions": atoms.positions.tolist(),
            "cell": atoms.cell.array.tolist(),
            "pbc": [bool(p) for p in atoms.pbc],
            "energy": float(out[AtomicDataDict.TOTAL_ENERGY_KEY].item()),
            "forces": out[AtomicDataDict.FORCE_KEY].detach().tolist(),
        }
        if all(atoms.pbc):
            frame["stress"] = out[AtomicDataDict.STRESS_KEY].detach().reshape(3, 3).tolist()
        frames.append(frame)
    return {"nequip_version": __import__("nequip").__version__, "torch_version": torch.__version__, "frames": frames}


def main() -> int:
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        import ase.io

        data_file = work / "emt_cuau_8.xyz"
        ase.io.write(data_file, ase.io.read(ROOT / "data" / "emt_cuau.xyz", index=":8"))
        (work / "config.yaml").write_text(CONFIG.replace("DATA_FILE", str(data_file)))
        run_dir = work / "run"
        subprocess.run(
            [
                str(Path(sys.executable).parent / "nequip-train"),
                "-cp",
                str(work),
                "-cn",
                "config",
                f"hydra.run.dir={run_dir}",
            ],
            check=True,
            cwd=work,
        )
        OUT_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(run_dir / "best.ckpt", OUT_DIR / CHECKPOINT_NAME)
    reference = upstream_predictions(str(OUT_DIR / CHECKPOINT_NAME))
    (OUT_DIR / REFERENCE_NAME).write_text(json.dumps(reference, indent=1) + "\n")
    size = (OUT_DIR / CHECKPOINT_NAME).stat().st_size
    print(f"wrote {OUT_DIR / CHECKPOINT_NAME} ({size / 1024:.0f} KiB) and {OUT_DIR / REFERENCE_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
