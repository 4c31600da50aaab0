"""Guard: `nequip` is a PEP 420 namespace and `nequip.nn` a pkgutil-style namespace, both
shared by several distributions.

`nequip.nn` has one `__init__.py`, in nequip-nn, whose first statement extends its path over
every installed copy of `nequip/nn/` (so that nequip-potentials' `nequip.nn.pair_potential`
resolves, in editable installs and from wheels). Any other `nequip/__init__.py` or
`nequip/nn/__init__.py` shadows the other packages' modules, but only in editable installs,
so it must never be committed.
"""

import ast
import importlib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p for p in (REPO / "packages").iterdir() if (p / "pyproject.toml").exists())
NN_INIT = REPO / "packages/nequip-nn/src/nequip/nn/__init__.py"
#: the statement that must come first in nequip-nn's nequip/nn/__init__.py
PKGUTIL_FORM = '__path__ = __import__("pkgutil").extend_path(__path__, __name__)'


def test_packages_found():
    assert {p.name for p in PACKAGES} >= {"nequip-data", "nequip-nn", "nequip-potentials"}


def test_no_namespace_init_files_but_nequip_nn_s():
    offenders = [
        str(init.relative_to(REPO))
        for package in PACKAGES
        for init in (package / "src/nequip/__init__.py", package / "src/nequip/nn/__init__.py")
        if init.exists() and init != NN_INIT
    ]
    assert offenders == [], (
        f"only nequip-nn may have nequip/nn/__init__.py, and no package nequip/__init__.py: {offenders}"
    )


def test_nequip_nn_init_starts_with_the_pkgutil_form():
    first = ast.parse(NN_INIT.read_text()).body[0]
    assert ast.dump(first) == ast.dump(ast.parse(PKGUTIL_FORM).body[0]), (
        f"the first statement of {NN_INIT.relative_to(REPO)} must be `{PKGUTIL_FORM}`, got `{ast.unparse(first)}`"
    )


def test_namespaces_span_distributions():
    import nequip
    import nequip.nn

    assert getattr(nequip, "__file__", None) is None
    nn_paths = {Path(p).resolve() for p in nequip.nn.__path__}
    expected = {(REPO / "packages" / name / "src/nequip/nn").resolve() for name in ("nequip-nn", "nequip-potentials")}
    assert expected <= nn_paths, f"nequip.nn.__path__ = {sorted(map(str, nn_paths))}"
    importlib.import_module("nequip.data")
    from nequip.nn import GraphModuleMixin
    from nequip.nn.pair_potential import ZBL

    assert issubclass(ZBL, GraphModuleMixin)
