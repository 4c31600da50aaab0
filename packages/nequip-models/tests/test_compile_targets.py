"""Compile targets end to end: an extension registers a target, ``nequip-compile --target`` exports for it,
the file records it; the default ``ase`` target; errors for unknown targets and options."""

import importlib.metadata
import sys

import pytest
import torch

import nequip.model.extensions as extensions_module
import nequip.scripts._compile_utils as compile_utils
from nequip.data import keys
from nequip.model import compile_cli, save_model_checkpoint
from nequip.model.export import (
    EXPORT_TOLERANCE,
    _export_inputs,
    example_frame,
    export_model,
    load_exported_model,
    read_exported_metadata,
)
from nequip.model.torch_compile import max_relative_deviation
from nequip.scripts._compile_utils import LMP_OUTPUTS

# an extension module as a package would ship it: registers a target when imported (the inputs
# in another order than the ase target's, the LAMMPS pair styles' outputs) and records the calls
FAKE_EXTENSION = """
from nequip.data import keys
from nequip.scripts._compile_utils import LMP_OUTPUTS, register_compile_targets, single_frame_batch_map_settings

CALLS = []


def data_settings(data):
    CALLS.append(("data_settings", int(data[keys.POSITIONS_KEY].shape[0])))
    return dict(data)


def batch_map_settings(batch_map):
    CALLS.append(("batch_map_settings", sorted(batch_map)))
    return single_frame_batch_map_settings(batch_map)


INPUTS = [keys.ATOM_TYPE_KEY, keys.POSITIONS_KEY, keys.EDGE_INDEX_KEY, keys.EDGE_CELL_SHIFT_KEY, keys.CELL_KEY,
          keys.BATCH_KEY, keys.NUM_NODES_KEY]
register_compile_targets({"fake_pair_style": {"input": INPUTS, "output": LMP_OUTPUTS,
                                              "batch_map_settings": batch_map_settings,
                                              "data_settings": data_settings}})
"""


@pytest.fixture
def isolated_registry(monkeypatch):
    """Targets registered in the test are dropped after it."""
    monkeypatch.setattr(compile_utils, "_COMPILE_TARGETS", dict(compile_utils._COMPILE_TARGETS))


def test_extension_target_through_nequip_compile(monkeypatch, tmp_path, isolated_registry, cuau_model):
    (tmp_path / "fake_nequip_extension.py").write_text(FAKE_EXTENSION)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "fake_nequip_extension", raising=False)
    entry = importlib.metadata.EntryPoint("init_always", "fake_nequip_extension", extensions_module.EXTENSION_GROUP)
    monkeypatch.setattr(extensions_module, "entry_points", lambda group: [entry])

    model = cuau_model()
    checkpoint, output = str(tmp_path / "model.ckpt"), str(tmp_path / "model.pt2")
    save_model_checkpoint(checkpoint, model)
    assert compile_cli.main([checkpoint, output, "--mode", "export", "--target", "fake_pair_style"]) == 0

    extension = sys.modules["fake_nequip_extension"]
    assert extension.CALLS == [
        ("data_settings", 27),  # the two default validation frames
        ("data_settings", 64),
        ("batch_map_settings", ["edge", "graph", "node"]),
    ]
    metadata = read_exported_metadata(output)
    assert metadata["target"] == "fake_pair_style"
    assert metadata["input_fields"] == extension.INPUTS
    assert metadata["output_fields"] == LMP_OUTPUTS
    # the file takes the target's inputs in the target's order and returns its outputs
    frame = example_frame(model.type_names, model.r_max, repeat=3, seed=5)
    args = _export_inputs(frame, torch.device("cpu"), model.orders_edges_in_pairs, extension.INPUTS)
    got = dict(zip(LMP_OUTPUTS, torch.export.load(output).module()(*args)))
    expected = model.forward_prepared(dict(zip(extension.INPUTS, args)))
    for field in LMP_OUTPUTS:
        assert max_relative_deviation(got[field], expected[field]) <= EXPORT_TOLERANCE[model.model_dtype], field
    with pytest.raises(ValueError, match="was compiled for target 'fake_pair_style'; this loader .* runs target 'ase'"):
        load_exported_model(output)


def test_default_target_is_ase(tmp_path, cuau_model):
    path = str(tmp_path / "model.pt2")
    metadata = export_model(cuau_model(), path, mode="export")
    assert metadata["target"] == read_exported_metadata(path)["target"] == "ase"
    assert metadata["output_fields"] == [
        keys.PER_ATOM_ENERGY_KEY,
        keys.TOTAL_ENERGY_KEY,
        keys.FORCE_KEY,
        keys.STRESS_KEY,
        keys.VIRIAL_KEY,
    ]


def test_unknown_target_and_foreign_options(tmp_path, isolated_registry, cuau_model):
    with pytest.raises(
        ValueError, match=r"target='no_such_target' is not a registered compile target; registered are \["
    ):
        export_model(cuau_model(), str(tmp_path / "x.pt2"), mode="export", target="no_such_target")
    with pytest.raises(ValueError, match=r"target 'ase' takes no options \['units'\]; its options are \[\]"):
        export_model(cuau_model(), str(tmp_path / "x.pt2"), mode="export", target_options={"units": "metal"})


def test_target_with_its_own_export_function(tmp_path, isolated_registry, cuau_model):
    """A target with ``export`` gets the model, the path, the common arguments and its options."""
    received = {}

    def export(model, path, **kwargs):
        received.update(kwargs, path=path)
        return {"target": "own_graph"}

    compile_utils.register_compile_targets(
        {
            "own_graph": {
                "input": [keys.EDGE_VECTORS_KEY],
                "output": [keys.TOTAL_ENERGY_KEY],
                "export": export,
                "options": {"depth": {"type": int, "help": "a depth"}},
            }
        }
    )
    path = str(tmp_path / "own.pt2")
    assert export_model(cuau_model(), path, target="own_graph", target_options={"depth": 3}) == {"target": "own_graph"}
    assert received == dict(
        path=path,
        mode="aotinductor",
        device=torch.device("cpu"),
        cpu_threads=None,
        validation_frames=None,
        inductor_configs=None,
        depth=3,
    )
