"""nequip.nn imports e3nn without torch._dynamo, and e3nn's disabled function stays disabled for dynamo."""

import subprocess
import sys

from nequip.nn.e3nn_import import _disable_at_first_call


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def test_building_and_running_a_model_does_not_import_dynamo():
    code = (
        "import sys, torch\n"
        "from nequip.nn.testkit import random_bulk, small_nequip_model, evaluate\n"
        "model = small_nequip_model(['Cu', 'Au'], r_max=3.0)\n"
        "out = evaluate(model, random_bulk(['Cu', 'Au'], r_max=3.0))\n"
        "print('torch._dynamo' in sys.modules, torch.compiler.disable.__module__)\n"
    )
    assert _run(code) == "False torch.compiler"


def test_e3nn_function_is_disabled_once_dynamo_is_imported():
    """The same graph break as with e3nn's own decorator, and the same numbers."""
    code = (
        "import torch, nequip.nn\n"
        "from e3nn.o3._wigner import change_basis_real_to_complex\n"
        "eager = change_basis_real_to_complex(2)\n"
        "f = torch.compile(lambda x: x * change_basis_real_to_complex(2).abs().sum(), backend='eager')\n"
        "x = torch.ones(3)\n"
        "assert torch.equal(f(x), x * eager.abs().sum())\n"
        "print('ok')\n"
    )
    assert _run(code) == "ok"


def test_deferred_decorator_applies_the_original_with_its_arguments():
    calls = []

    def disable(fn, recursive, **kwargs):
        calls.append((fn.__name__, recursive, kwargs))
        return lambda *args: ("disabled", fn(*args))

    def double(x):
        return 2 * x

    deferred = _disable_at_first_call(disable, recursive=False, reason="test")(double)
    assert deferred.__name__ == "double"
    import torch._dynamo  # noqa: F401  (the test process imports it through other tests anyway)

    assert deferred(3) == ("disabled", 6) and deferred(4) == ("disabled", 8)
    assert calls == [("double", False, {"reason": "test"})]
