"""The LAMMPS graph in Python (no LAMMPS, no compilation): local energy with explicit ghosts equals
the periodic model, and the export's argument checks."""

import numpy as np
import pytest
import torch

from nequip.data import keys
from nequip.lammps.export import (
    LammpsModel,
    LocalEnergyGraph,
    compare_with_periodic_model,
    energy_model_of,
    export_lammps_model,
    ghost_expanded_frame,
    load_lammps_model,
    message_passing_layers,
    model_units,
    periodic_frame,
)
from nequip.model.export import CPU_INDUCTOR_OPTIONS

TRICLINIC = torch.tensor([[5.0, 0.0, 0.0], [1.2, 4.6, 0.0], [0.8, -0.9, 5.3]], dtype=torch.float64)


def frame(num_atoms=10, seed=0, pbc=(True, True, True)):
    rng = np.random.default_rng(seed)
    positions = torch.from_numpy(rng.random((num_atoms, 3))) @ TRICLINIC
    return {
        keys.POSITIONS_KEY: positions,
        keys.CELL_KEY: TRICLINIC.unsqueeze(0),
        keys.PBC_KEY: torch.tensor([list(pbc)]),
        keys.ATOM_TYPE_KEY: torch.arange(num_atoms) % 2,
    }


def graph_outputs(model, inputs):
    return LammpsModel(LocalEnergyGraph(energy_model_of(model)), metadata={})(inputs)


@pytest.mark.parametrize("construction", ["ghosts", "one rank"])
@pytest.mark.parametrize("pbc", [(True, True, True), (True, True, False)])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_graph_equals_periodic_model(fitted_model, float32_model, dtype, pbc, construction):
    """Both graphs the plugin builds: explicit ghosts 2 r_max deep (several ranks), and ghosts
    attached to their originals (one rank)."""
    model = fitted_model if dtype == "float64" else float32_model
    periodic = frame(pbc=pbc)
    cutoffs = None
    if model.per_edge_type_cutoff is not None:
        cutoffs = torch.tensor([[model.per_edge_type_cutoff[a][b] for b in model.type_names] for a in model.type_names])
    if construction == "ghosts":
        inputs, owner = ghost_expanded_frame(periodic, 2 * model.r_max, model.r_max, cutoffs)
        assert len(owner) > 10 * len(periodic[keys.POSITIONS_KEY])  # the cell is far smaller than the ghost shell
    else:
        inputs, owner = periodic_frame(periodic, model.r_max, cutoffs)
        assert len(owner) == len(periodic[keys.POSITIONS_KEY])
    deviations = compare_with_periodic_model(model, periodic, graph_outputs(model, inputs), owner)
    tolerance = 1e-12 if dtype == "float64" else 1e-5
    assert max(deviations.values()) < tolerance, deviations


def test_ghost_shell_one_layer_short_changes_the_energy(fitted_model):
    """The check in the export is sensitive: ghosts r_max deep are not enough for 2 layers."""
    periodic = frame()
    inputs, owner = ghost_expanded_frame(periodic, fitted_model.r_max, fitted_model.r_max)
    deviations = compare_with_periodic_model(fitted_model, periodic, graph_outputs(fitted_model, inputs), owner)
    assert deviations[keys.TOTAL_ENERGY_KEY] > 1e-6


def test_per_atom_virials_sum_to_the_virial(fitted_model):
    inputs, _ = ghost_expanded_frame(frame(), 2 * fitted_model.r_max, fitted_model.r_max)
    out = graph_outputs(fitted_model, inputs)
    torch.testing.assert_close(out["atomic_virial"].sum(0), out[keys.VIRIAL_KEY][0], rtol=1e-12, atol=1e-14)


def test_export_refuses_too_few_layers_before_compiling(fitted_model, tmp_path):
    with pytest.raises(ValueError, match=r"is num_layers too small\?"):
        export_lammps_model(fitted_model, str(tmp_path / "m.pt2"), units="metal", num_layers=1)
    assert not (tmp_path / "m.pt2").exists()


def test_package_compiles_with_the_cpu_options(fitted_model, tmp_path, monkeypatch):
    """The LAMMPS package gets the same CPU inductor options as ``nequip-compile``'s."""
    seen = []

    class Compiled(Exception):
        pass

    def compile_and_package(program, package_path, inductor_configs):
        seen.append(inductor_configs)
        raise Compiled

    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", compile_and_package)
    with pytest.raises(Compiled):
        export_lammps_model(fitted_model, str(tmp_path / "m.pt2"), units="metal", cpu_threads=1)
    assert seen[0].items() >= CPU_INDUCTOR_OPTIONS.items() and seen[0]["cpp.threads"] == 1


def test_number_of_layers_and_units(fitted_model):
    assert message_passing_layers(fitted_model) == 2
    assert model_units(fitted_model, "real") == "real"
    with pytest.raises(ValueError, match=r"units are required .* allowed are \['metal', 'real'\]"):
        model_units(fitted_model, None)
    with pytest.raises(ValueError, match=r"units='lj' is not allowed; allowed are \['metal', 'real'\]"):
        model_units(fitted_model, "lj")


def test_units_from_zbl():
    from nequip.model import NequIPGNNModel

    model = NequIPGNNModel(
        seed=0,
        model_dtype="float64",
        type_names=["Cu", "Au"],
        r_max=4.0,
        num_layers=1,
        l_max=0,
        num_features=2,
        radial_mlp_width=4,
        avg_num_neighbors=10.0,
        per_type_energy_scales=1.0,
        per_type_energy_shifts=0.0,
        pair_potential={"_target_": "nequip.nn.pair_potential.ZBL", "units": "real", "chemical_species": ["Cu", "Au"]},
    )
    assert model_units(model, None) == "real"
    with pytest.raises(
        ValueError, match=r"units='metal' contradicts the model's ZBL term, which is in units \['real'\]"
    ):
        model_units(model, "metal")


def test_not_a_graph_model():
    with pytest.raises(ValueError, match=r"model must be a GraphModel around a ForceStressOutput \(.*\), got a Linear"):
        energy_model_of(torch.nn.Linear(2, 2))


def test_load_refuses_other_files(tmp_path):
    path = tmp_path / "x.pt2"
    path.write_text("text")
    with pytest.raises(ValueError, match="is not an AOTInductor package"):
        load_lammps_model(str(path))


def test_files_of_other_targets_are_refused(exported, ase_target_file):
    """The LAMMPS loader refuses an ``ase`` file and the ASE loader a ``lammps`` one; both record their target."""
    from nequip.model.export import load_exported_model, read_exported_metadata

    assert read_exported_metadata(exported["float64"])["target"] == "lammps"
    assert read_exported_metadata(ase_target_file)["target"] == "ase"
    with pytest.raises(ValueError, match="was compiled for target 'ase'; pair_style nequip reads target 'lammps'"):
        load_lammps_model(ase_target_file)
    with pytest.raises(ValueError, match="was compiled for target 'lammps'; this loader .* runs target 'ase'"):
        load_exported_model(exported["float64"])


def test_files_of_another_format_version_are_refused(exported, monkeypatch):
    """A file whose format version is not the one this version reads (here: a reader one version
    ahead) is refused with both versions and the command that writes a current file."""
    import nequip.lammps.export as lammps_export

    written = lammps_export.LAMMPS_FORMAT_VERSION
    monkeypatch.setattr(lammps_export, "LAMMPS_FORMAT_VERSION", written + 1)
    with pytest.raises(
        ValueError,
        match=rf"version {written}; this version reads .* version {written + 1}; write it again with nequip-compile",
    ):
        load_lammps_model(exported["float64"])


def test_nequip_compile_refuses_options_of_another_target(tmp_path, capsys):
    from nequip.model import compile_cli

    status = compile_cli.main([str(tmp_path / "missing.ckpt"), str(tmp_path / "out.pt2"), "--units", "metal"])
    assert status == 1
    assert "options ['--units (of --target lammps)'] do not apply to --target ase" in capsys.readouterr().err
