"""nequip.scripts: the compile-target and packaging-extern registries extension packages call."""

import pytest

from nequip.data import keys
from nequip.scripts._compile_utils import (
    ASE_INPUTS,
    ASE_TARGET,
    LMP_OUTPUTS,
    compile_target,
    compile_target_names,
    register_compile_targets,
    single_frame_batch_map_settings,
)
from nequip.scripts._package_utils import external_libraries, register_libraries_as_external_for_packaging


def _target(**changes):
    target = {
        "input": [keys.POSITIONS_KEY, keys.EDGE_INDEX_KEY, keys.ATOM_TYPE_KEY],
        "output": LMP_OUTPUTS,
        "batch_map_settings": single_frame_batch_map_settings,
        "data_settings": lambda data: data,
    }
    target.update(changes)
    return target


def test_register_and_look_up_a_target():
    register_compile_targets({"test_pair": _target()})
    assert "test_pair" in compile_target_names()
    assert compile_target("test_pair")["output"] == LMP_OUTPUTS
    with pytest.raises(KeyError, match="no compile target 'missing'"):
        compile_target("missing")


@pytest.mark.parametrize(
    "target,message",
    [
        (_target(input=["no_such_field"]), "input names unknown fields"),
        (_target(data_settings=3), "data_settings must be callable"),
        ({"input": []}, r"must have the entries \['input', 'output', 'batch_map_settings', 'data_settings'\]"),
        (_target(export=print, options={"depth": {"default": 2}}), "may not set 'default' or 'dest'"),
        (_target(options={}), r"not allowed \['options'\]"),  # options go with an export function only
    ],
)
def test_bad_targets_are_refused(target, message):
    with pytest.raises(ValueError, match=message):
        register_compile_targets({"bad": target})
    assert "bad" not in compile_target_names()


def test_a_target_with_an_export_function_needs_no_settings():
    target = {"input": [keys.EDGE_VECTORS_KEY], "output": LMP_OUTPUTS, "export": print, "options": {"depth": {}}}
    register_compile_targets({"test_own_export": target})
    assert compile_target("test_own_export")["options"] == {"depth": {}}


def test_the_ase_target_is_built_in():
    assert compile_target(ASE_TARGET)["input"] == ASE_INPUTS and ASE_TARGET == "ase"


def test_single_frame_batch_map_is_static():
    import torch

    assert single_frame_batch_map_settings({})["graph"] == torch.export.Dim.STATIC


def test_external_libraries():
    register_libraries_as_external_for_packaging(extern_modules=["some_ops_library"])
    assert "some_ops_library" in external_libraries()
    with pytest.raises(ValueError, match="top-level module names"):
        register_libraries_as_external_for_packaging(extern_modules=["a.b"])
    with pytest.raises(ValueError, match="both external and mocked"):
        register_libraries_as_external_for_packaging(mock_modules=["some_ops_library"])
