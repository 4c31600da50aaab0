"""``nequip-compile`` end to end: checkpoint -> AOTInductor package -> NequIPCalculator, same numbers as the checkpoint.

AOTInductor generates and compiles C++ (about a minute for this tiny model on one core),
so this file compiles once; ``test_export.py`` covers ``--mode export``.
"""

import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from nequip.integrations.ase import NequIPCalculator
from nequip.model import save_model_checkpoint

pytestmark = pytest.mark.skipif(
    shutil.which("g++") is None and shutil.which("c++") is None, reason="AOTInductor needs a C++ compiler"
)


def test_nequip_compile_aotinductor_end_to_end(tmp_path, cuau_model, cuau_atoms):
    model = cuau_model(num_layers=1)  # the compile time grows with the graph
    ema = {name: value + 0.02 * torch.randn_like(value) for name, value in model.named_parameters()}
    checkpoint, output = str(tmp_path / "model.ckpt"), str(tmp_path / "model.nequip.pt2")
    save_model_checkpoint(checkpoint, model, ema_state_dict=ema)
    script = os.path.join(os.path.dirname(sys.executable), "nequip-compile")
    command = [script] if os.path.exists(script) else [sys.executable, "-m", "nequip.model.compile_cli"]
    result = subprocess.run(
        command + [checkpoint, output, "--device", "cpu", "--cpu-threads", "1"],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="2"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert '"mode": "aotinductor"' in result.stdout and '"type_names": ["Cu", "Au"]' in result.stdout
    assert '"cpu_threads": 1' in result.stdout  # --cpu-threads, not the exporting process's 2 threads
    assert "was compiled for" not in result.stderr  # no thread-count warning from the export's own check

    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        match = r"compiled for 1 CPU thread\(s\) but this process runs torch with 2; it runs slower than it can"
        with pytest.warns(UserWarning, match=match):
            NequIPCalculator.from_compiled_model(output)
        torch.set_num_threads(1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            compiled = NequIPCalculator.from_compiled_model(output)
    finally:
        torch.set_num_threads(threads)
    assert compiled.model.mode == "aotinductor" and compiled.model.r_max == 4.0
    eager = NequIPCalculator.from_checkpoint(checkpoint)
    for atoms in (cuau_atoms(repeat=(2, 2, 1), seed=4), cuau_atoms(repeat=(3, 3, 3), seed=5)):
        for calc in (compiled, eager):
            calc.calculate(atoms, ["energy", "forces", "stress"])
        for field in ("energy", "energies", "forces", "stress"):
            got, expected = np.atleast_1d(compiled.results[field]), np.atleast_1d(eager.results[field])
            deviation = np.abs(got - expected).max() / np.abs(expected).max()
            assert deviation <= 1e-10, f"{field} of {len(atoms)} atoms: relative deviation {deviation:.2e}"

    with pytest.raises(ValueError, match="compiled with AOTInductor for device 'cpu'"):
        NequIPCalculator.from_compiled_model(output, device="meta")
    bad = subprocess.run(command + [str(tmp_path / "missing.ckpt"), output], capture_output=True, text=True)
    assert bad.returncode == 1 and "is not a file" in bad.stderr
