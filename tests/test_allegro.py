"""nequip-allegro 0.8.3, unchanged, imports, builds and trains on our wheels (issue: extension packages for real).

A venv gets our nequip-data, nequip-nn, nequip-potentials and nequip-models wheels, hydra-core
(Allegro's model module imports ``hydra.utils.instantiate``) and ``nequip-allegro==0.8.3``
with ``--no-deps``; ``allegro_build_check.py`` then builds ``AllegroModel`` in float32 and
float64 and evaluates it on an xTB ethanol frame, then runs the shared physics test-kit
(``nequip.nn.testkit.check_all``) and a strict-locality check (Allegro's per-atom energy sees
only atoms within r_max) on a small float64 ``AllegroModel``; finally it saves such a model with
``save_model_checkpoint``, reloads it with ``ModelFromCheckpoint`` (same energy and forces) and
runs 100 NVE steps of 0.5 fs with ``NequIPCalculator.from_checkpoint`` (energy conserved within
a bound, with velocity Verlet's dt² error), and exports it with the venv's ``nequip-compile
--mode export`` (energy and forces equal the eager model's, also at another atom count).
A second venv adds our nequip-train wheel (with its dependencies: Lightning, hydra), and its
``nequip-train`` command trains a tiny ``AllegroModel`` for three epochs on xTB ethanol frames
from a config naming ``allegro.model.AllegroModel``: the training loss decreases and the best
checkpoint rebuilds the model. (Two venvs rather than one grown in place: the first must hold
no Lightning; with uv's cache a venv takes seconds.)
Skipped when the package registry is unreachable.
"""

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _test_wheels_module():
    # the tests are imported with --import-mode=importlib: load the sibling module by path
    spec = importlib.util.spec_from_file_location("_test_wheels", Path(__file__).with_name("test_wheels.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_test_wheels = _test_wheels_module()
UV = _test_wheels.UV
wheels = _test_wheels.wheels  # the module-scoped fixture that builds every package's wheel
ALLEGRO = "nequip-allegro==0.8.3"
#: our packages that Allegro's model code needs (none of them brings Lightning)
MODEL_PACKAGES = ("nequip-data", "nequip-nn", "nequip-potentials", "nequip-models")

pytestmark = pytest.mark.skipif(UV is None, reason="uv is not on PATH (run the tests with `uv run pytest`)")


def _pip_install(python: Path, *args: str) -> None:
    """``uv pip install`` into ``python``'s venv; skips the test when the package registry is unreachable."""
    result = subprocess.run(
        [UV, "pip", "install", "--quiet", "--python", str(python), *args], capture_output=True, text=True
    )
    if result.returncode != 0:
        if any(word in result.stderr.lower() for word in ("connect", "network", "dns", "offline", "timed out")):
            pytest.skip(f"package registry unreachable, cannot install {args}: {result.stderr.strip()[-300:]}")
        raise AssertionError(result.stderr)


def _venv_with_allegro(path: Path, wheels: dict, packages: tuple) -> Path:
    """A venv holding our ``packages`` (wheels, with their dependencies) and Allegro with ``--no-deps``.

    Also installs hydra-core (Allegro's model module imports ``hydra.utils.instantiate``).
    Returns its Python.
    """
    subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, str(path)], check=True)
    python = path / "bin" / "python"
    _pip_install(python, *(str(wheels[name]) for name in packages))
    _pip_install(python, "--no-deps", ALLEGRO)
    _pip_install(python, "hydra-core")  # with its own dependencies (omegaconf, antlr4)
    return python


def test_allegro_imports_and_builds_from_our_wheels(wheels, tmp_path):
    python = _venv_with_allegro(tmp_path / "venv", wheels, MODEL_PACKAGES)
    script = Path(__file__).with_name("allegro_build_check.py")
    result = subprocess.run(
        [str(python), str(script), str(REPO / "data" / "xtb_ethanol.xyz")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = result.stdout.split("\n")
    assert [line.split()[0] for line in lines if line] == [
        "float32",
        "float64",
        "testkit",
        "nve",
        "export",
        "pair_allegro",
    ], result.stdout
    assert lines[0].endswith("torch.float32") and lines[1].endswith("torch.float64"), result.stdout
    assert lines[2].startswith("testkit float64 "), result.stdout
    assert lines[3].startswith("nve float64 steps=100 dt=0.5fs energy_spread="), result.stdout
    assert lines[4] == "export float64 equals eager up to 18 atoms", result.stdout
    assert lines[5] == "pair_allegro float64 equals eager up to 18 atoms", result.stdout
    lightning = subprocess.run([str(python), "-c", "import lightning"], capture_output=True)
    assert lightning.returncode != 0, "the venv must hold no Lightning (nequip-train is not installed)"


#: a tiny AllegroModel (the model section of Allegro's tutorial config, shrunk) trained on 16
#: xTB ethanol frames; DATA_FILE is replaced by the path of data/xtb_ethanol.xyz
TRAIN_CONFIG = """
run: [train]
cutoff_radius: 4.0
chemical_symbols: [C, H, O]
model_type_names: ${chemical_symbols}
monitored_metric: val0_epoch/weighted_sum

data:
  _target_: nequip.data.datamodule.ASEDataModule
  seed: 456
  split_dataset:
    file_path: DATA_FILE
    train: 16
    val: 4
  ase_args:
    index: ":20"
  transforms:
    - _target_: nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper
      model_type_names: ${model_type_names}
      chemical_species_to_atom_type_map: ${list_to_identity_dict:${chemical_symbols}}
    - _target_: nequip.data.transforms.NeighborListTransform
      r_max: ${cutoff_radius}
  train_dataloader:
    _target_: torch.utils.data.DataLoader
    batch_size: 4
    shuffle: true
  val_dataloader:
    _target_: torch.utils.data.DataLoader
    batch_size: 4
  stats_manager:
    _target_: nequip.data.CommonDataStatisticsManager
    type_names: ${model_type_names}

trainer:
  _target_: lightning.Trainer
  accelerator: cpu
  max_epochs: 3
  enable_progress_bar: false
  log_every_n_steps: 1
  logger:
    _target_: lightning.pytorch.loggers.CSVLogger
    save_dir: ${hydra:runtime.output_dir}
    name: allegro
  callbacks:
    - _target_: lightning.pytorch.callbacks.ModelCheckpoint
      monitor: ${monitored_metric}
      dirpath: ${hydra:runtime.output_dir}
      filename: best

training_module:
  _target_: nequip.train.NequIPLightningModule
  loss:
    _target_: nequip.train.EnergyForceLoss
    per_atom_energy: true
    coeffs:
      total_energy: 1.0
      forces: 1.0
  val_metrics:
    _target_: nequip.train.EnergyForceMetrics
    coeffs:
      per_atom_energy_mae: 1.0
      forces_mae: 1.0
  optimizer:
    _target_: torch.optim.Adam
    lr: 0.01
  model:
    _target_: allegro.model.AllegroModel
    seed: 456
    model_dtype: float32
    type_names: ${model_type_names}
    r_max: ${cutoff_radius}
    l_max: 1
    parity: true
    radial_chemical_embed:
      _target_: allegro.nn.TwoBodyBesselScalarEmbed
      num_bessels: 8
      bessel_trainable: false
      polynomial_cutoff_p: 6
    radial_chemical_embed_dim: 8
    scalar_embed_mlp_hidden_layers_depth: 1
    scalar_embed_mlp_hidden_layers_width: 8
    scalar_embed_mlp_nonlinearity: silu
    num_layers: 1
    num_scalar_features: 8
    num_tensor_features: 4
    allegro_mlp_hidden_layers_depth: 1
    allegro_mlp_hidden_layers_width: 8
    allegro_mlp_nonlinearity: silu
    tp_path_channel_coupling: true
    readout_mlp_hidden_layers_depth: 1
    readout_mlp_hidden_layers_width: 8
    readout_mlp_nonlinearity: silu
    avg_num_neighbors: ${training_data_stats:num_neighbors_mean}
    per_type_energy_scales: ${training_data_stats:forces_rms}
    per_type_energy_shifts: ${training_data_stats:per_atom_energy_mean}
"""


def _epoch_losses(metrics_csv: Path, name: str) -> list:
    """The logged ``train_loss_epoch/NAME`` values, in epoch order."""
    with open(metrics_csv) as handle:
        rows = [row for row in csv.DictReader(handle) if row.get(f"train_loss_epoch/{name}")]
    return [float(row[f"train_loss_epoch/{name}"]) for row in sorted(rows, key=lambda row: int(row["epoch"]))]


def test_nequip_train_trains_allegro(wheels, tmp_path):
    """The venv's ``nequip-train`` command trains Allegro's model by its ``_target_``; the loss decreases."""
    python = _venv_with_allegro(tmp_path / "venv", wheels, MODEL_PACKAGES + ("nequip-train",))
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "allegro.yaml").write_text(TRAIN_CONFIG.replace("DATA_FILE", str(REPO / "data" / "xtb_ethanol.xyz")))
    out = tmp_path / "out"
    result = subprocess.run(
        [str(python.with_name("nequip-train")), "-cp", str(config_dir), "-cn", "allegro", f"hydra.run.dir={out}"],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    (metrics_csv,) = out.glob("allegro/*/metrics.csv")
    total, forces = _epoch_losses(metrics_csv, "weighted_sum"), _epoch_losses(metrics_csv, "forces_mse")
    assert len(total) == len(forces) == 3, metrics_csv.read_text()
    assert total[-1] < total[0] and forces[-1] < forces[0], (total, forces)
    # the checkpoint records Allegro's builder and rebuilds the model in the same venv
    code = (
        "import sys; from nequip.model import ModelFromCheckpoint;"
        "model = ModelFromCheckpoint(sys.argv[1]);"
        "print(model.model_config['_target_'], type(model).__name__)"
    )
    loaded = subprocess.run([str(python), "-c", code, str(out / "best.ckpt")], capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.split() == ["allegro.model.AllegroModel", "GraphModel"], loaded.stdout
