"""Every public name of upstream NequIP 0.19.1 imports from our packages, or is listed here with the reason.

The names are the ``__all__`` of upstream's modules, read from the released package and kept in
``tests/data/upstream_0_19_1_public_names.json``.
"""

import importlib
import json
from pathlib import Path

import pytest

NAMES = json.loads((Path(__file__).parent / "data" / "upstream_0_19_1_public_names.json").read_text())["modules"]

#: names that do not import (yet), by module, each with the reason
NOT_HONOURED = {}

CASES = [(module, name) for module, names in NAMES.items() for name in names]


def test_fixture_lists_every_module():
    assert {"nequip.data", "nequip.model", "nequip.train", "nequip.nn", "nequip.integrations.ase"} <= set(NAMES)
    assert len(CASES) > 120


def test_not_honoured_names_are_upstream_names():
    stray = {(m, n) for m, names in NOT_HONOURED.items() for n in names} - set(CASES)
    assert not stray, f"listed as not honoured but not an upstream name: {sorted(stray)}"


@pytest.mark.parametrize("module,name", CASES, ids=[f"{m}.{n}" for m, n in CASES])
def test_upstream_name_imports(module, name):
    reason = NOT_HONOURED.get(module, {}).get(name)
    try:
        found = hasattr(importlib.import_module(module), name)
    except ImportError:
        found = False
    if reason is not None:
        assert not found, f"{module}.{name} imports now: remove it from NOT_HONOURED ({reason!r})"
        pytest.skip(f"{module}.{name}: {reason}")
    assert found, f"upstream's {module}.{name} does not import from our packages"
