"""Guard the namespace layout: ``nequip`` is a PEP 420 namespace, ``nequip.nn`` is nequip-nn's pkgutil-style
package whose path this distribution extends with ``nequip.nn.pair_potential``."""

import pathlib

import nequip
import nequip.nn
import nequip.nn.pair_potential
import nequip.potentials

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"


def test_no_init_in_namespace_dirs():
    assert not (SRC / "nequip" / "__init__.py").exists()
    assert not (SRC / "nequip" / "nn" / "__init__.py").exists()
    assert (SRC / "nequip" / "potentials" / "__init__.py").exists()
    assert (SRC / "nequip" / "nn" / "pair_potential" / "__init__.py").exists()


def test_namespaces_resolve_to_this_package():
    assert getattr(nequip, "__file__", None) is None
    nn_init = pathlib.Path(nequip.nn.__file__).resolve()
    assert nn_init.name == "__init__.py" and not nn_init.is_relative_to(SRC)  # nequip-nn's, not ours
    assert any(pathlib.Path(p).resolve() == (SRC / "nequip" / "nn").resolve() for p in nequip.nn.__path__)
    assert pathlib.Path(nequip.potentials.__file__).resolve().is_relative_to(SRC)
    assert pathlib.Path(nequip.nn.pair_potential.__file__).resolve().is_relative_to(SRC)
    assert nequip.nn.pair_potential.__all__ == ["ZBL"]
