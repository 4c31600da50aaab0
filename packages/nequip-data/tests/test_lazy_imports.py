"""``import nequip.data`` stays light: the statistics (torchmetrics) load on first use."""

import subprocess
import sys

import pytest

import nequip.data


def _modules_after(code: str) -> set:
    """Top-level module names loaded in a fresh interpreter after running ``code``."""
    script = f"{code}\nimport sys\nprint(' '.join(sorted({{name.split('.')[0] for name in sys.modules}})))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(result.stdout.split())


def test_importing_nequip_data_does_not_import_torchmetrics():
    loaded = _modules_after("import nequip.data; from nequip.data import from_ase, keys, AtomicDataDict")
    assert "nequip" in loaded
    assert "torchmetrics" not in loaded


def test_statistics_names_import_from_nequip_data_on_first_use():
    loaded = _modules_after("from nequip.data import CommonDataStatisticsManager")
    assert "torchmetrics" in loaded
    from nequip.data import stats

    assert set(nequip.data._STATS_NAMES) == set(stats.__all__)
    for name in stats.__all__:
        assert getattr(nequip.data, name) is getattr(stats, name)
        assert name in nequip.data.__all__
    assert nequip.data.stats is stats


def test_unknown_attribute_of_nequip_data_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        nequip.data.no_such_name  # noqa: B018
