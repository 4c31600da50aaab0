"""Each package builds its own wheel, and nequip-data installs and imports alone.

Uses the ``uv`` that runs the tests (``uv run`` sets ``$UV``); skipped without it.
"""

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UV = os.environ.get("UV") or shutil.which("uv")
PACKAGES = sorted(p.name for p in (REPO / "packages").iterdir() if (p / "pyproject.toml").exists())

pytestmark = pytest.mark.skipif(UV is None, reason="uv is not on PATH (run the tests with `uv run pytest`)")


# compiled against the torch it runs with: built without isolation by its PEP 517 backend in this
# environment (`uv build` cannot match a build's torch to a runtime it does not have)
BUILT_AGAINST_TORCH = {"nequip-kernels"}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheels")
    for package in PACKAGES:
        if package in BUILT_AGAINST_TORCH:
            build = f"import setuptools.build_meta as backend; backend.build_wheel({str(out)!r})"
            subprocess.run(
                [sys.executable, "-c", build], cwd=REPO / "packages" / package, check=True, capture_output=True
            )
            continue
        subprocess.run(
            [UV, "build", "--package", package, "--wheel", "--out-dir", str(out), "--quiet"],
            cwd=REPO,
            check=True,
        )
    return {p.name.split("-")[0].replace("_", "-"): p for p in out.glob("*.whl")}


def test_every_package_builds_a_wheel_with_the_namespace_layout(wheels):
    """No wheel has nequip/__init__.py; only nequip-nn's has nequip/nn/__init__.py (the pkgutil form)."""
    assert sorted(wheels) == PACKAGES
    for package, wheel in wheels.items():
        names = zipfile.ZipFile(wheel).namelist()
        assert "nequip/__init__.py" not in names, package
        assert ("nequip/nn/__init__.py" in names) == (package == "nequip-nn"), package
        assert any(name.endswith(".py") for name in names), f"{package} wheel has no modules"


def test_nequip_nn_and_nequip_potentials_share_nequip_nn_from_wheels(wheels, tmp_path):
    """Installed from wheels, nequip.nn (with its __init__.py) and nequip.nn.pair_potential both import."""
    venv = tmp_path / "venv"
    subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    install = [str(wheels[name]) for name in ("nequip-data", "nequip-nn", "nequip-potentials")]
    subprocess.run([UV, "pip", "install", "--quiet", "--python", str(python), *install], check=True)
    code = (
        "import importlib.util;"
        "from nequip.nn import GraphModuleMixin, model_modifier;"
        "from nequip.nn.pair_potential import ZBL;"
        "assert issubclass(ZBL, GraphModuleMixin);"
        "assert importlib.util.find_spec('nequip.model') is None;"
        "print('ok')"
    )
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_nequip_data_installs_alone(wheels, tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([UV, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([UV, "pip", "install", "--quiet", "--python", str(python), str(wheels["nequip-data"])], check=True)
    code = (
        "import importlib.util, nequip.data, nequip.data.dataset, nequip.data.stats, nequip.data.transforms;"
        "assert importlib.util.find_spec('lightning') is None;"
        "assert importlib.util.find_spec('hydra') is None;"
        "assert importlib.util.find_spec('e3nn') is None;"
        "from nequip.data.dataset import EMTTestDataset;"
        "from nequip.data import CommonDataStatisticsManager;"
        "print(len(EMTTestDataset(num_frames=2, supercell=(1, 1, 1))))"
    )
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2"


def test_nequip_models_requires_nequip_potentials(wheels):
    """A checkpoint whose model has a ZBL term names nequip.nn.pair_potential: installing
    nequip-models alone (an MD user) must bring nequip-potentials."""
    with zipfile.ZipFile(wheels["nequip-models"]) as wheel:
        metadata = next(name for name in wheel.namelist() if name.endswith(".dist-info/METADATA"))
        requires = [
            line.split(":", 1)[1].strip()
            for line in wheel.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    assert "nequip-potentials" in {re.split(r"[\s;<>=!~\[(]", req)[0] for req in requires}, requires
