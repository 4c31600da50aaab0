"""Guard: `nequip` and `nequip.nn` are PEP 420 namespaces shared by several distributions.

A stray `nequip/__init__.py` or `nequip/nn/__init__.py` in any package shadows the other
packages' modules, but only in editable installs, so it must never be committed.
"""

import importlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p for p in (REPO / "packages").iterdir() if (p / "pyproject.toml").exists())


def test_packages_found():
    assert {p.name for p in PACKAGES} >= {"nequip-data", "nequip-nn", "nequip-potentials"}


def test_no_namespace_init_files():
    offenders = [
        str(init.relative_to(REPO))
        for package in PACKAGES
        for init in (package / "src/nequip/__init__.py", package / "src/nequip/nn/__init__.py")
        if init.exists()
    ]
    assert offenders == [], f"namespace packages must not have __init__.py: {offenders}"


def test_namespaces_span_distributions():
    import nequip
    import nequip.nn

    assert getattr(nequip, "__file__", None) is None
    nn_paths = {Path(p).resolve() for p in nequip.nn.__path__}
    expected = {(REPO / "packages" / name / "src/nequip/nn").resolve() for name in ("nequip-nn", "nequip-potentials")}
    assert expected <= nn_paths, f"nequip.nn.__path__ = {sorted(map(str, nn_paths))}"
    importlib.import_module("nequip.data")
    importlib.import_module("nequip.nn.pair_potential")
