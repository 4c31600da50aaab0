"""retain_freed_memory: freed large CPU buffers are reused without page faults (glibc)."""

import platform
import subprocess
import sys
import textwrap

import pytest

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="mallopt settings are glibc's"
)

# each case runs in a fresh interpreter: the settings are process-wide and permanent
REALLOC_FAULTS = textwrap.dedent(
    """
    import resource, torch

    def realloc_faults():  # fewest page faults of allocating and filling a 64 MiB block just freed
        faults = []
        for _ in range(16):  # small allocations in between may split a freed block: not every cycle is steady
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            x = torch.ones(16 * 2**20); del x
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
        return min(faults[2:])
    """
)


def _run(body: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", REALLOC_FAULTS + textwrap.dedent(body)], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@glibc_only
def test_freed_memory_is_reused_without_page_faults():
    before, applied, again, after = _run(
        """
        from nequip.model.cpu_memory import retain_freed_memory
        before = realloc_faults()
        print(before, retain_freed_memory(), retain_freed_memory(), realloc_faults())
        """
    )
    assert applied == again == "True"
    # 64 MiB are 16,384 pages of 4 KiB: glibc maps them afresh on every allocation by default
    assert int(before) > 10000
    assert int(after) < 50


@glibc_only
def test_calculator_on_cpu_retains_freed_memory_unless_told_not_to():
    retained = _run(
        """
        from nequip.integrations.ase import NequIPCalculator
        from nequip.model import NequIPGNNModel, cpu_memory

        model = NequIPGNNModel(seed=0, model_dtype="float64", type_names=["H", "O"], r_max=3.0, num_layers=1,
                               num_features=4, avg_num_neighbors=2.0, per_type_energy_scales=1.0,
                               per_type_energy_shifts=0.0).eval()
        NequIPCalculator(model, retain_freed_memory=False)
        print(cpu_memory._retained)
        NequIPCalculator(model)
        print(cpu_memory._retained)
        """
    )
    assert retained == ["False", "True"]
