"""The documentation site builds without warnings, its examples run, and the repository stands alone.

The Sphinx builds run in a subprocess (``python -m sphinx``), as the README's docs command does:
``-b html`` with warnings as errors, then ``-b doctest``, which runs every ``{doctest}`` block
of the pages. Both share one doctree folder, so the pages are read once.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
# the folder beside the repository that only its developers have, spelled backwards so that
# this file does not mention it itself
FOLDER = "derahs"[::-1]
OUTSIDE_FOLDER = re.compile(rf"\.\./{FOLDER}|/\s*[\"']{FOLDER}[\"']")


@pytest.fixture(scope="module")
def doctrees(tmp_path_factory):
    return tmp_path_factory.mktemp("doctrees")


def _sphinx(builder: str, doctrees: Path, out: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder, "-d", str(doctrees)]
    return subprocess.run(command + [str(DOCS), str(out)], cwd=ROOT, capture_output=True, text=True, timeout=1200)


def test_docs_build_without_warnings(doctrees, tmp_path):
    result = _sphinx("html", doctrees, tmp_path / "html")
    assert result.returncode == 0, f"sphinx-build -W -b html failed:\n{result.stdout[-5000:]}\n{result.stderr[-5000:]}"
    index = (tmp_path / "html" / "index.html").read_text()
    for page in ("installation", "tutorial", "model-hyperparameters", "benchmarks", "troubleshooting"):
        assert f'href="{page}.html"' in index, page
    for package in ("nequip-data", "nequip-nn", "nequip-potentials", "nequip-models", "nequip-train"):
        api = (tmp_path / "html" / "api" / f"{package}.html").read_text()
        assert "sig-object py" in api, f"API page of {package} documents no object"


def test_docs_examples_run(doctrees, tmp_path):
    result = _sphinx("doctest", doctrees, tmp_path / "doctest")
    report = (tmp_path / "doctest" / "output.txt").read_text() if (tmp_path / "doctest" / "output.txt").exists() else ""
    assert result.returncode == 0, f"doctest failures:\n{report[-8000:]}\n{result.stderr[-3000:]}"
    tested = sum(int(n) for n in re.findall(r"^\s*(\d+) tests", report, flags=re.M))
    assert tested >= 20, f"only {tested} doctest examples ran:\n{report}"


def _tracked_files():
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True)
    if listed.returncode != 0:
        pytest.skip("not a git checkout: the tracked files are unknown")
    return [ROOT / name for name in listed.stdout.split("\0") if name]


def test_no_tracked_file_reads_outside_the_repository():
    offenders = []
    for path in _tracked_files():
        if not path.is_file() or path.suffix in {".xyz", ".csv", ".png", ".lock"}:
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if OUTSIDE_FOLDER.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "tracked files refer to a folder outside the repository:\n" + "\n".join(offenders)


def test_outside_folder_pattern_matches():
    assert OUTSIDE_FOLDER.search(f"file_path: ../{FOLDER}/data/x.xyz")
    assert OUTSIDE_FOLDER.search(f'ROOT.parent / "{FOLDER}" / "seed"')
    assert not OUTSIDE_FOLDER.search(f"values {FOLDER} by several sections")
