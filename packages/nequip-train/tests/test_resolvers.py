"""Config resolvers: list helpers, extension registration, and statistics of big data sets."""

import types

import pytest
import yaml
from omegaconf import OmegaConf

from nequip.train import resolvers
from nequip.train.big_dataset_stats import big_dataset_stats, compute_big_dataset_stats
from nequip.train.resolvers import register_resolvers


def test_list_resolvers():
    register_resolvers()
    config = OmegaConf.create(
        {
            "a": ["H", "O"],
            "b": ["C"],
            "all": "${concat_lists:${a},${b}}",
            "cutoffs": "${list_to_constant_dict:${a},4.5}",
            "identity": "${list_to_identity_dict:${a}}",
        }
    )
    assert list(config.all) == ["H", "O", "C"]
    assert dict(config.cutoffs) == {"H": 4.5, "O": 4.5}
    assert dict(config.identity) == {"H": "H", "O": "O"}
    with pytest.raises(ValueError, match="needs lists"):
        resolvers.concat_lists("H", ["O"])


def test_extension_resolvers_explicit_and_by_entry_point(monkeypatch):
    register_resolvers({"times_three": lambda x: 3 * x})
    assert OmegaConf.create({"x": "${times_three:2}"}).x == 6
    with pytest.raises(ValueError, match="built into nequip.train"):
        register_resolvers({"int_mul": lambda a, b: a})

    point = types.SimpleNamespace(value="ext:RESOLVERS", load=lambda: {"plus_one": lambda x: x + 1})
    monkeypatch.setattr(resolvers, "entry_points", lambda group: [point] if group == "nequip.resolvers" else [])
    register_resolvers()
    assert OmegaConf.create({"x": "${plus_one:2}"}).x == 3
    bad = types.SimpleNamespace(value="ext:BAD", load=lambda: ["not", "a", "dict"])
    monkeypatch.setattr(resolvers, "entry_points", lambda group: [bad])
    with pytest.raises(ValueError, match="ext:BAD"):
        register_resolvers()


CONFIG = """
cutoff_radius: 3.0
chemical_symbols: [Cu, Au]
data:
  _target_: nequip.data.datamodule.NequIPDataModule
  seed: 1
  split_dataset:
    dataset:
      _target_: nequip.data.dataset.EMTTestDataset
      supercell: [1, 1, 2]
      element: ${chemical_symbols}
      num_frames: 4
      seed: 2
      transforms:
        - _target_: nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper
          chemical_symbols: ${chemical_symbols}
        - _target_: nequip.data.transforms.NeighborListTransform
          r_max: ${cutoff_radius}
    train: 3
    val: 1
  train_dataloader: {_target_: torch.utils.data.DataLoader, batch_size: 2}
  val_dataloader: {_target_: torch.utils.data.DataLoader, batch_size: 2}
  stats_manager:
    _target_: nequip.data.CommonDataStatisticsManager
    type_names: ${chemical_symbols}
"""


def _stats_at(tmp_path, cutoff):
    """The statistics of the test config computed the ordinary way (as a training run does) at one cutoff."""
    import hydra.utils

    config = OmegaConf.create(CONFIG)
    config.cutoff_radius = cutoff
    return hydra.utils.instantiate(config.data, _recursive_=False).get_statistics()


def test_big_dataset_stats_written_by_a_separate_run_and_read_back(tmp_path):
    (tmp_path / "small.yaml").write_text(CONFIG)
    out = tmp_path / "stats" / "small_stats.yaml"
    compute_big_dataset_stats(str(tmp_path), "small", [3.0, 4.5], str(out))
    with open(out) as handle:
        written = yaml.safe_load(handle)
    assert sorted(written["num_neighbors_mean"]) == ["3.0", "4.5"]
    for cutoff in (3.0, 4.5):
        direct = _stats_at(tmp_path, cutoff)
        read = big_dataset_stats(str(out), cutoff)
        assert read["num_neighbors_mean"] == pytest.approx(float(direct["num_neighbors_mean"]), rel=1e-12)
        assert read["per_atom_energy_mean"] == pytest.approx(float(direct["per_atom_energy_mean"]), rel=1e-12)
    assert (
        big_dataset_stats(str(out), 4.5)["num_neighbors_mean"] > big_dataset_stats(str(out), 3.0)["num_neighbors_mean"]
    )

    register_resolvers()
    config = OmegaConf.create({"stats": f"${{big_dataset_stats:{out},4.5}}", "n": "${stats.num_neighbors_mean}"})
    assert config.n == pytest.approx(written["num_neighbors_mean"]["4.5"])
    with pytest.raises(ValueError, match=r"has cutoffs \['3.0', '4.5'\]"):
        big_dataset_stats(str(out), 6.0)
    with pytest.raises(ValueError, match="no statistics file"):
        big_dataset_stats("NoSuchDataSet", 5.0)


# a statistics file in the layout of upstream NequIP's precomputed ones (made-up numbers):
# comments, an interpolation between top-level keys, neighbor statistics by cutoff as "%.1f"
UPSTREAM_LAYOUT_STATS = """
# == Fixed metadata ==
model_type_names: [H, C]
chemical_species: ${model_type_names}
isolated_atom_energies: {H: -1.5, C: -2.5}
per_atom_energy_mean: -3.25
forces_rms: 0.75
per_type_forces_rms: [0.5, 1.0]
num_neighbors_mean:
  5.0: 30.5
  6.0: 48.25
per_type_num_neighbors_mean:
  5.0: [29.0, 32.0]
  6.0: [46.5, 50.0]
"""


def test_big_dataset_stats_reads_files_in_upstreams_layout(tmp_path):
    path = tmp_path / "Upstreamish.yaml"
    path.write_text(UPSTREAM_LAYOUT_STATS)
    register_resolvers()
    config = OmegaConf.create(
        {
            "stats": f"${{big_dataset_stats:{path},6.0}}",
            "avg_num_neighbors": "${stats.num_neighbors_mean}",
            "per_type": "${stats.per_type_num_neighbors_mean}",
            "species": "${stats.chemical_species}",
        }
    )
    assert config.avg_num_neighbors == 48.25
    assert list(config.per_type) == [46.5, 50.0]
    assert list(config.species) == ["H", "C"]


def test_package_resolvers_read_the_package_metadata(tmp_path):
    from nequip.model import NequIPGNNModel, save_package

    model = NequIPGNNModel(
        seed=0,
        model_dtype="float64",
        type_names=["H", "O"],
        r_max=3.5,
        num_layers=1,
        num_features=4,
        avg_num_neighbors=2.0,
        per_type_energy_scales=1.0,
        per_type_energy_shifts=-0.5,
    )
    path = tmp_path / "model.nequip.zip"
    save_package(str(path), model)
    register_resolvers()
    config = OmegaConf.create(
        {"types": f"${{type_names_from_package:{path}}}", "r": f"${{cutoff_radius_from_package:{path}}}"}
    )
    assert list(config.types) == ["H", "O"] and config.r == 3.5
    with pytest.raises(ValueError, match="model_key"):
        resolvers.cutoff_radius_from_package(str(path), model_key="other")


def test_integer_resolvers_take_digit_strings_from_the_environment():
    from nequip.train.resolvers import int_div, int_mul

    assert int_div(16, "2") == 8 and int_mul("3", 4) == 12  # ${oc.env:VAR} resolves to a string
    with pytest.raises(ValueError, match=r"int_div needs integers, got '2.5'"):
        int_div(5, "2.5")
    with pytest.raises(ValueError, match=r"int_mul needs integers, got True"):
        int_mul(True, 2)
