"""configs/fine_tune.yaml: a tutorial model fine-tuned on other data starts at its pretrained accuracy and improves.

One tiny tutorial model is pretrained for the module (configs/tutorial.yaml with the
short-run overrides of tests/conftest.py, on 16 frames for 15 epochs), then fine-tuned with
configs/fine_tune.yaml on other EMT frames (larger displacements, another seed). The fine-tuned checkpoint loads in the ASE calculator and in nequip-compile,
without the pretrained file. Data with other per-type reference energies gives the same
starting accuracy through modify_PerTypeScaleShift; data with another species is refused.
"""

from pathlib import Path

import ase.io
import pytest
import torch
from ase.calculators.singlepoint import SinglePointCalculator

from nequip.integrations.ase import NequIPCalculator
from nequip.model.compile_cli import main as compile_main
from nequip.model.export import load_exported_model
from nequip.train.cli import run_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
COMMON = ["trainer.max_epochs=1", "+trainer.enable_progress_bar=false"]
# the tutorial's cell size and displacements (other frames: another seed), so that the tiny, briefly
# pretrained model is expected to transfer
SMALL = ["data.split_dataset.dataset.supercell=[1,1,2]", "data.split_dataset.dataset.num_frames=8"]
SMALL += ["data.split_dataset.dataset.sigma=0.1"]
FRAMES = [*SMALL, "data.split_dataset.train=6", "data.split_dataset.val=2", "data.split_dataset.test=0"]
METRICS = ("val0_epoch/total_energy_mae", "val0_epoch/forces_mae", "val0_epoch/weighted_sum")


@pytest.fixture(autouse=True)
def _setup(monkeypatch):
    monkeypatch.chdir(ROOT)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# the pretraining data: configs/tutorial.yaml's data set as PRETRAINING shrinks it
PRETRAINING = [
    "data.split_dataset.dataset.supercell=[1,1,2]",
    "data.split_dataset.dataset.num_frames=16",
    "data.split_dataset.train=12",
    "data.split_dataset.val=2",
    "data.split_dataset.test=2",
]
# the same frames through configs/fine_tune.yaml (the tutorial's dataset seed and displacements)
SAME_AS_PRETRAINING = [*PRETRAINING, "data.split_dataset.dataset.seed=1", "data.split_dataset.dataset.sigma=0.1"]


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory, tutorial_short_run):
    """``(last.ckpt, its validation metrics)`` of a tiny tutorial model trained for 15 epochs."""
    out = tmp_path_factory.mktemp("pretrained")
    shrink = [o for o in tutorial_short_run if "split_dataset" not in o and not o.startswith("trainer.max_epochs")]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)
        result = run_config(
            CONFIGS, "tutorial", [*shrink, *PRETRAINING, "trainer.max_epochs=15", "run=[train,val]"], out
        )
    return out / "last.ckpt", _val(result)


def _fine_tune(checkpoint, out, *overrides):
    result = run_config(CONFIGS, "fine_tune", [*COMMON, *FRAMES, f"pretrained_model={checkpoint}", *overrides], out)
    return result


def _val(result):
    (metrics,) = result["results"]["val"]
    return {name: metrics[name] for name in METRICS}


def run_config_stats(checkpoint, tmp_path):
    """The training-data statistics of the pretraining frames, as the fine-tuning config computes them."""
    return _fine_tune(checkpoint, tmp_path / "stats", "run=[val]", *SAME_AS_PRETRAINING)["module"].training_data_stats


def _scratch_model(stats):
    """The tutorial's model (as SHORT['tutorial'] shrinks it), built from scratch on the fine-tuning data's statistics."""
    shifts = stats["per_type_atom_energy_lstsq"]
    scales = stats["per_type_forces_rms"]
    return (
        "+training_module.model={_target_: nequip.model.NequIPGNNModel, seed: 456, model_dtype: float32, "
        "type_names: [Cu, Au], r_max: 4.0, num_layers: 1, l_max: 1, num_features: 4, radial_mlp_width: 8, "
        f"avg_num_neighbors: {stats['num_neighbors_mean']}, "
        f"per_type_energy_scales: {{Cu: {scales['Cu']}, Au: {scales['Au']}}}, "
        f"per_type_energy_shifts: {{Cu: {shifts['Cu']}, Au: {shifts['Au']}}}, "
        "pair_potential: {_target_: nequip.nn.pair_potential.ZBL, units: metal, chemical_species: [Cu, Au]}}"
    )


def test_fine_tuning_starts_from_the_pretrained_model_and_improves(pretrained, tmp_path):
    checkpoint, pretrained_metrics = pretrained
    # on the pretraining frames, the fine-tuning run starts exactly where pretraining ended
    # (the refit shifts are the pretraining's: the same least-squares fit of the same frames)
    start = _val(_fine_tune(checkpoint, tmp_path / "start", "run=[val]", *SAME_AS_PRETRAINING))
    for name in METRICS:
        assert start[name] == pytest.approx(pretrained_metrics[name], rel=1e-6), name
    # a model trained from scratch for one epoch on them is worse
    scratch = _fine_tune(
        checkpoint,
        tmp_path / "scratch",
        "run=[train,val]",
        *SAME_AS_PRETRAINING,
        "~training_module.model",
        _scratch_model(run_config_stats(checkpoint, tmp_path)),
    )
    # (deterministic: seeded data, model and training; the tiny model learns energies faster than forces)
    assert start["val0_epoch/weighted_sum"] < 0.8 * _val(scratch)["val0_epoch/weighted_sum"], (start, _val(scratch))

    # on the fine-tuning frames, training improves on the pretrained model
    tuned_dir = tmp_path / "tuned"
    at_start = _val(_fine_tune(checkpoint, tmp_path / "other", "run=[val]", *FRAMES))
    tuned = _val(_fine_tune(checkpoint, tuned_dir, "run=[train,val]", *FRAMES, "trainer.max_epochs=6"))
    assert tuned["val0_epoch/weighted_sum"] < at_start["val0_epoch/weighted_sum"], (at_start, tuned)

    # the fine-tuned checkpoint holds the whole model: it loads without the pretrained file
    pretrained_bytes = checkpoint.read_bytes()
    checkpoint.unlink()
    try:
        atoms = ase.io.read(ROOT / "data" / "emt_cuau.xyz", index=0)
        atoms.calc = NequIPCalculator.from_checkpoint(str(tuned_dir / "best.ckpt"))
        energy = atoms.get_potential_energy()
        output = str(tmp_path / "tuned.nequip.pt2")
        assert compile_main([str(tuned_dir / "best.ckpt"), output, "--mode", "export"]) == 0
        exported = load_exported_model(output)
        assert exported.type_names == ["Cu", "Au"] and exported.r_max == 4.0
        atoms.calc = NequIPCalculator.from_compiled_model(output)
        assert atoms.get_potential_energy() == pytest.approx(energy, rel=1e-5)  # float32 model
    finally:
        checkpoint.write_bytes(pretrained_bytes)


def _frames_file(path, offsets, extra_species=None):
    """The fine-tuning config's frames (as FRAMES shrinks them) as an extxyz file, energies shifted per atom."""
    from nequip.data import to_ase
    from nequip.data.dataset import EMTTestDataset

    dataset = EMTTestDataset(supercell=[1, 1, 2], element=["Cu", "Au"], sigma=0.1, num_frames=8, seed=2)
    frames = []
    for i in range(len(dataset)):
        (atoms,) = to_ase(dataset[i])
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        if extra_species is not None:
            atoms.symbols[0] = extra_species
        energy += sum(offsets.get(s, 0.0) for s in atoms.get_chemical_symbols())
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        frames.append(atoms)
    ase.io.write(path, frames)
    return (
        "~data.split_dataset.dataset",
        f"+data.split_dataset.dataset={{_target_: nequip.data.dataset.ASEDataset, file_path: '{path}', "
        "transforms: [{_target_: nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper, "
        "chemical_symbols: ${chemical_symbols}}, {_target_: nequip.data.transforms.NeighborListTransform, "
        "r_max: ${cutoff_radius}}]}",
    )


def test_new_reference_energies_through_modify_per_type_scale_shift(pretrained, tmp_path):
    pretrained, _ = pretrained
    same = _frames_file(tmp_path / "same.xyz", {})
    shifted = _frames_file(tmp_path / "shifted.xyz", {"Cu": -2.0, "Au": 1.5})  # eV per atom: another reference
    plain = _val(_fine_tune(pretrained, tmp_path / "plain", "run=[val]", *same))
    refit = _val(_fine_tune(pretrained, tmp_path / "refit", "run=[val]", *shifted))
    for name in METRICS:
        assert refit[name] == pytest.approx(plain[name], rel=1e-6), name
    # without the modifier the pretrained shifts miss the new reference by the offsets
    kept = _val(_fine_tune(pretrained, tmp_path / "kept", "run=[val]", *shifted, "training_module.model.modifiers=[]"))
    # (the offsets move each 4-atom frame's energy by 2 to 8 eV)
    assert abs(kept["val0_epoch/total_energy_mae"] - plain["val0_epoch/total_energy_mae"]) > 1.0
    assert kept["val0_epoch/forces_mae"] == pytest.approx(plain["val0_epoch/forces_mae"], rel=1e-6)


def test_a_species_the_model_lacks_is_an_error_saying_what_to_do(pretrained, tmp_path):
    pretrained, _ = pretrained
    with_silver = _frames_file(tmp_path / "with_silver.xyz", {}, extra_species="Ag")
    with pytest.raises(Exception, match=r"type names \['Ag'\] that the model does not have.*train a new model"):
        _fine_tune(pretrained, tmp_path / "ag", "run=[val]", *with_silver, "chemical_symbols=[Cu,Au,Ag]")
