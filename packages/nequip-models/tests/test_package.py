"""Packaged models: round trip, code-free contents, the committed format-1 fixture, nequip-package, nequip-compile."""

import doctest
import io
import json
import zipfile
from pathlib import Path

import ase
import pytest
import torch

import nequip.model.package as package_module
from nequip.data import from_ase, keys
from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform
from nequip.model import (
    ModelFromPackage,
    ModelTypeNamesFromPackage,
    NequIPGNNModel,
    cutoff_radius_from_package,
    read_package_metadata,
    save_model_checkpoint,
    save_package,
    type_names_from_package,
)
from nequip.model.compile_cli import main as compile_main
from nequip.model.export import load_exported_model
from nequip.model.package import METADATA_MEMBER, WEIGHTS_MEMBER
from nequip.model.package_cli import main as package_main
from nequip.nn.testkit import evaluate, random_bulk

DATA = Path(__file__).parent / "data"
FIXTURE = DATA / "package_format_1.nequip.zip"
FIXTURE_REFERENCE = json.loads((DATA / "package_format_1_reference.json").read_text())


@pytest.fixture
def trained(tiny_kwargs):
    model = NequIPGNNModel(**tiny_kwargs, per_edge_type_cutoff={"H": 2.5, "O": 3.0})
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return model


def test_docstring_examples():
    assert doctest.testmod(package_module, raise_on_error=True).attempted > 0


def test_round_trip_same_outputs_and_metadata_without_building(tmp_path, trained):
    path = str(tmp_path / "model.nequip.zip")
    save_package(path, trained)
    assert type_names_from_package(path) == ModelTypeNamesFromPackage(path) == ["H", "O"]
    assert cutoff_radius_from_package(path) == 3.0
    metadata = read_package_metadata(path)
    assert metadata["model_config"] == trained.model_config and metadata["model_dtype"] == "float64"
    assert metadata["per_edge_type_cutoff"]["H"]["H"] == 2.5
    assert {"name": "modify_PerTypeScaleShift", "persistent": True}.items() <= metadata["model_modifiers"][0].items()
    loaded = ModelFromPackage(path)
    assert loaded.model_config == trained.model_config and loaded.metadata == trained.metadata
    data = random_bulk(["H", "O"], 3.0, num_atoms=4)
    expected, got = evaluate(trained, data), evaluate(loaded, data)
    for field in (keys.TOTAL_ENERGY_KEY, keys.FORCE_KEY, keys.STRESS_KEY):
        assert torch.equal(got[field], expected[field]), field


def test_contents_are_json_and_weights_only_tensors(tmp_path, trained):
    path = str(tmp_path / "model.nequip.zip")
    save_package(path, trained)
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == sorted([METADATA_MEMBER, WEIGHTS_MEMBER])
        json.loads(archive.read(METADATA_MEMBER))
        weights = torch.load(io.BytesIO(archive.read(WEIGHTS_MEMBER)), weights_only=True)
    assert set(weights["state_dict"]) == set(trained.state_dict())


def test_committed_format_1_fixture_still_loads_with_its_numbers():
    """Written once by tools/make_package_fixture.py; later versions must keep reading it."""
    metadata = read_package_metadata(str(FIXTURE))
    assert metadata["format_version"] == 1 and metadata["model_config"]["_target_"] == "nequip.model.modify"
    model = ModelFromPackage(str(FIXTURE)).eval()
    (frame,) = FIXTURE_REFERENCE["frames"]
    atoms = ase.Atoms(frame["symbols"], positions=frame["positions"], cell=frame["cell"], pbc=frame["pbc"])
    data = NeighborListTransform(4.0)(ChemicalSpeciesToAtomTypeMapper(["Cu", "Au"])(from_ase(atoms)))
    out = model(data)
    for field, key in (("energy", keys.TOTAL_ENERGY_KEY), ("forces", keys.FORCE_KEY), ("stress", keys.STRESS_KEY)):
        expected = torch.tensor(frame[field], dtype=torch.float64)
        torch.testing.assert_close(out[key].detach().reshape(expected.shape), expected, rtol=1e-10, atol=1e-12)


def test_errors(tmp_path, trained):
    with pytest.raises(ValueError, match=r"must end in '.nequip.zip'"):
        save_package(str(tmp_path / "model.zip"), trained)
    with pytest.raises(ValueError, match="is not a file"):
        ModelFromPackage(str(tmp_path / "missing.nequip.zip"))
    text = tmp_path / "text.nequip.zip"
    text.write_text("not a zip")
    with pytest.raises(ValueError, match="not a zip archive"):
        type_names_from_package(str(text))
    foreign = tmp_path / "upstream.nequip.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("model/.data/version", "3")
    with pytest.raises(ValueError, match="upstream NequIP's torch.package archives are not read"):
        ModelFromPackage(str(foreign))
    path = tmp_path / "model.nequip.zip"
    save_package(str(path), trained)
    newer = tmp_path / "newer.nequip.zip"
    with zipfile.ZipFile(path) as old, zipfile.ZipFile(newer, "w") as new:
        metadata = json.loads(old.read(METADATA_MEMBER))
        new.writestr(METADATA_MEMBER, json.dumps({**metadata, "format_version": 99}))
        new.writestr(WEIGHTS_MEMBER, old.read(WEIGHTS_MEMBER))
    with pytest.raises(ValueError, match="format_version 99 is not supported"):
        ModelFromPackage(str(newer))
    with pytest.raises(ValueError, match="compile_mode"):
        ModelFromPackage(str(path), compile_mode="fast")


def test_nequip_package_build_info_modify_list(tmp_path, trained, capsys):
    ema = {name: p.detach() + 0.01 for name, p in trained.named_parameters()}
    checkpoint, package, modified = tmp_path / "best.ckpt", tmp_path / "m.nequip.zip", tmp_path / "m2.nequip.zip"
    save_model_checkpoint(str(checkpoint), trained, ema_state_dict=ema)
    assert package_main(["build", str(checkpoint), str(package)]) == 0
    for name, p in ModelFromPackage(str(package)).named_parameters():
        assert torch.equal(p, ema[name]), name  # the evaluation (EMA) weights are packaged
    capsys.readouterr()
    assert package_main(["info", str(package)]) == 0
    assert json.loads(capsys.readouterr().out)["type_names"] == ["H", "O"]
    assert package_main(["info", str(package), "--get-modifiers"]) == 0
    assert "modify_PerTypeScaleShift" in capsys.readouterr().out
    args = ["modify", str(package), str(modified), "--modifier", "modify_PerTypeScaleShift", 'shifts={"O": -9.5}']
    assert package_main(args) == 0
    shifts = ModelFromPackage(str(modified)).model.func.per_type_energy_scale_shift.shifts
    assert shifts.view(-1).tolist() == [-1.5, -9.5]
    assert package_main(["list", str(modified)]) == 0
    assert METADATA_MEMBER in capsys.readouterr().out
    assert package_main(["build", str(checkpoint), str(tmp_path / "wrong.zip")]) == 1
    assert "must end in" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["export", "aotinductor"])
def test_nequip_compile_accepts_a_package(tmp_path, trained, mode):
    package, output = str(tmp_path / "m.nequip.zip"), str(tmp_path / "m.nequip.pt2")
    save_package(package, trained.eval())
    # nequip-compile checks the export against the eager model before it succeeds
    assert compile_main([package, output, "--mode", mode, "--cpu-threads", "1"]) == 0
    exported = load_exported_model(output)
    assert exported.type_names == ["H", "O"] and exported.r_max == 3.0 and exported.mode == mode
