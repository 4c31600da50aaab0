"""nequip-train imports installed extension packages (``nequip.extension`` entries) before reading its config."""

import importlib.metadata

import pytest

import nequip.model.extensions as extensions_module
from nequip.train import cli


def test_nequip_train_loads_extensions_first(monkeypatch, tmp_path):
    def entry_points(group):
        return [importlib.metadata.EntryPoint("init_always", "no_such_nequip_extension_module", group)]

    monkeypatch.setattr(extensions_module, "entry_points", entry_points)
    with pytest.raises(ImportError, match="cannot import the nequip extension 'no_such_nequip_extension_module'"):
        cli.main(["-cp", str(tmp_path), "-cn", "missing_config"])
