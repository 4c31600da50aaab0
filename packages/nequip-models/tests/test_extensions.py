"""load_extensions imports the modules of ``nequip.extension`` entries named ``init_always``."""

import importlib.metadata
import sys

import pytest

import nequip.model.extensions as extensions_module
from nequip.model.extensions import EXTENSION_GROUP, load_extensions


def _fake_entry_points(monkeypatch, entries):
    """Replace the installed entry points by ``entries`` ((name, value) pairs); returns the groups asked for."""
    seen_groups = []

    def entry_points(group):
        seen_groups.append(group)
        return [importlib.metadata.EntryPoint(name, value, group) for name, value in entries]

    monkeypatch.setattr(extensions_module, "entry_points", entry_points)
    return seen_groups


def test_imports_the_modules_of_init_always_entries_only(monkeypatch, tmp_path):
    # each module records its import in a list the test holds
    record = []
    monkeypatch.setattr("builtins._nequip_extension_imports", record, raising=False)
    for name in ("fake_extension_a", "fake_extension_b", "fake_extension_c"):
        (tmp_path / f"{name}.py").write_text("import builtins\nbuiltins._nequip_extension_imports.append(__name__)\n")
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.syspath_prepend(str(tmp_path))
    entries = [
        ("init_always", "fake_extension_b"),
        ("other_name", "fake_extension_c"),
        ("init_always", "fake_extension_a"),
    ]
    seen_groups = _fake_entry_points(monkeypatch, entries)
    assert load_extensions() == ["fake_extension_b", "fake_extension_a"]
    assert seen_groups == [EXTENSION_GROUP]
    assert record == ["fake_extension_b", "fake_extension_a"]


def test_unimportable_extension_names_the_entry(monkeypatch):
    _fake_entry_points(monkeypatch, [("init_always", "no_such_nequip_extension_module")])
    with pytest.raises(
        ImportError,
        match=r"cannot import the nequip extension 'no_such_nequip_extension_module' \(entry point init_always "
        r"of group nequip.extension",
    ):
        load_extensions()


def test_nequip_compile_loads_extensions_before_reading_the_checkpoint(monkeypatch, tmp_path):
    from nequip.model import compile_cli

    _fake_entry_points(monkeypatch, [("init_always", "no_such_nequip_extension_module")])
    with pytest.raises(ImportError, match="cannot import the nequip extension 'no_such_nequip_extension_module'"):
        compile_cli.main([str(tmp_path / "missing.ckpt"), str(tmp_path / "out.pt2"), "--mode", "export"])
