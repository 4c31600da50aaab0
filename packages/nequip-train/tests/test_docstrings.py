"""The docstring examples of nequip.train run."""

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["nequip.train.metrics", "nequip.train.metrics_manager", "nequip.train.resolvers"])
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
