"""Exported models (torch.export, ``mode="export"``) reproduce the eager model; clear errors when loading.

The AOTInductor mode is checked end to end through the CLI in ``test_compile_cli.py``.
"""

import numpy as np
import pytest
import torch

from nequip.data import keys
from nequip.integrations.ase import NequIPCalculator
from nequip.model.export import (
    CPU_INDUCTOR_OPTIONS,
    EXPORT_TOLERANCE,
    export_model,
    inductor_options,
    load_exported_model,
)
from nequip.nn.kernels import HAS_FUSED_KERNELS

FIELDS = ("energy", "energies", "forces", "stress")


def _relative(got, expected):
    got, expected = np.atleast_1d(got), np.atleast_1d(expected)
    return float(np.abs(got - expected).max() / np.abs(expected).max())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_exported_model_matches_eager(dtype, tmp_path, cuau_model, cuau_atoms):
    """One file, traced on a 27-atom frame: 32- and 256-atom alloys and a cluster, within 1e-5 / 1e-10 relative."""
    model = cuau_model(model_dtype=dtype, per_edge_type_cutoff={"Cu": 3.5, "Au": {"Cu": 3.5, "Au": 4.0}})
    path = str(tmp_path / "model.pt2")
    metadata = export_model(model, path, mode="export")
    assert metadata["type_names"] == ["Cu", "Au"] and metadata["r_max"] == 4.0 and metadata["model_dtype"] == dtype
    assert metadata["per_edge_type_cutoff"]["Cu"]["Au"] == 3.5
    assert {keys.TOTAL_ENERGY_KEY, keys.FORCE_KEY, keys.STRESS_KEY} <= set(metadata["output_fields"])
    assert metadata["cpu_threads"] is None  # only AOTInductor CPU kernels have a fixed thread count
    # the CPU graph calls the fused convolution where nequip-kernels is installed
    assert metadata["custom_operators"] == (["nequip_kernels"] if HAS_FUSED_KERNELS else [])
    exported = NequIPCalculator.from_compiled_model(path)
    assert exported.model.mode == "export" and exported.model.per_edge_type_cutoff["Cu"]["Au"] == 3.5
    eager = NequIPCalculator(model)
    cluster = cuau_atoms(repeat=(1, 1, 1), seed=2)
    cluster.pbc, cluster.cell = False, np.zeros((3, 3))
    tolerance = EXPORT_TOLERANCE[getattr(torch, dtype)]
    for atoms in (cuau_atoms(repeat=(2, 2, 2), seed=1), cuau_atoms(repeat=(4, 4, 4), seed=2), cluster):
        exported.calculate(atoms, list(FIELDS))
        got = dict(exported.results)
        eager.calculate(atoms, list(FIELDS))
        assert set(got) == set(eager.results)
        for field in got:
            deviation = _relative(got[field], eager.results[field])
            assert deviation <= tolerance, f"{field} of {len(atoms)} atoms: relative deviation {deviation:.2e}"
    assert "stress" not in got  # the cluster has no cell
    lonely = cuau_atoms(repeat=(1, 1, 1))[:1]
    lonely.pbc, lonely.cell = False, np.zeros((3, 3))
    with pytest.raises(ValueError, match="at least 2 atoms and 2 edges, got 1 atoms and 0 edges"):
        exported.calculate(lonely, ["energy"])


def test_loading_errors(tmp_path, cuau_model):
    not_a_model = tmp_path / "model.pt2"
    not_a_model.write_text("nothing")
    with pytest.raises(ValueError, match="not a model file written by nequip-compile"):
        load_exported_model(str(not_a_model))
    with pytest.raises(ValueError, match="mode='torchscript' is not allowed; allowed are"):
        export_model(cuau_model(), str(tmp_path / "x.pt2"), mode="torchscript")
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match=f"cpu_threads must be a positive integer, got {bad!r}"):
            export_model(cuau_model(), str(tmp_path / "x.pt2"), mode="export", cpu_threads=bad)


class _Compiled(Exception):
    """Stops an export once AOTInductor has been called, with the options it was given."""


def test_aotinductor_packages_compile_with_the_cpu_options(tmp_path, cuau_model, monkeypatch):
    """The CPU options of :func:`inductor_options` reach the compiler; the caller's options win."""
    seen = []

    def compile_and_package(program, package_path, inductor_configs):
        seen.append(inductor_configs)
        raise _Compiled

    monkeypatch.setattr(torch._inductor, "aoti_compile_and_package", compile_and_package)
    with pytest.raises(_Compiled):
        export_model(cuau_model(), str(tmp_path / "a.pt2"), cpu_threads=1)
    with pytest.raises(_Compiled):
        export_model(cuau_model(), str(tmp_path / "b.pt2"), inductor_configs={"realize_reads_threshold": 4})
    assert CPU_INDUCTOR_OPTIONS and inductor_options("cpu") == CPU_INDUCTOR_OPTIONS
    assert seen[0].items() >= CPU_INDUCTOR_OPTIONS.items() and seen[0]["cpp.threads"] == 1
    assert seen[1]["realize_reads_threshold"] == 4
    assert inductor_options("cuda") == {}  # GPUs: inductor's defaults (not measured)


def test_two_thread_package_matches_eager(tmp_path, cuau_model, cuau_atoms):
    """A package for two threads is traced with one scatter-sum per convolution; its numbers
    are the eager model's (the export checks two frames itself, this a third)."""
    model = cuau_model(model_dtype="float64")
    path = str(tmp_path / "two.pt2")
    assert export_model(model, path, cpu_threads=2)["cpu_threads"] == 2
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        exported = NequIPCalculator.from_compiled_model(path)
    finally:
        torch.set_num_threads(threads)
    eager = NequIPCalculator(model)
    atoms = cuau_atoms(repeat=(3, 2, 2), seed=7)
    exported.calculate(atoms, ["energy", "forces"])
    eager.calculate(atoms, ["energy", "forces"])
    for field in ("energy", "forces"):
        assert _relative(exported.results[field], eager.results[field]) <= EXPORT_TOLERANCE[torch.float64]


@pytest.mark.skipif(not HAS_FUSED_KERNELS, reason="nequip-kernels is not installed")
def test_model_with_fused_operators_needs_nequip_kernels(tmp_path, cuau_model):
    """A model exported with the fused convolution, loaded where nequip-kernels is missing: an
    error that names the package (not torch's missing-schema message); exported with
    ``fused_kernel=False``, it loads there."""
    import subprocess
    import sys

    model = cuau_model()
    fused, plain = str(tmp_path / "fused.pt2"), str(tmp_path / "plain.pt2")
    export_model(model, fused, mode="export")
    for module in model.modules():
        if hasattr(module, "fused_kernel"):
            module.fused_kernel = False
    assert export_model(model, plain, mode="export")["custom_operators"] == []
    script = (
        "import sys; sys.modules['nequip.kernels'] = None  # as if not installed\n"
        "from nequip.model.export import load_exported_model\n"
        "load_exported_model(sys.argv[2])\n"
        "try:\n"
        "    load_exported_model(sys.argv[1])\n"
        "except ValueError as err:\n"
        "    print(err)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, fused, plain], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "fused convolution of nequip-kernels" in result.stdout and "install nequip-kernels" in result.stdout
