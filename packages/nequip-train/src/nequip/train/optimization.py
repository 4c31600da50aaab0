"""Optimizers with parameter groups, and LR schedulers (nested ones too), built from configs.

An optimizer config is a ``_target_`` without ``params``; its optional ``param_groups`` is a
config whose ``_target_`` is called with ``model=`` and returns what the optimizer takes as
``params`` (the parameters, or a list of group dicts with their own options), e.g.
:func:`nequip.model.MuonParamGroups` for :class:`~nequip.train.MuonWithAuxAdam`::

    optimizer:
      _target_: torch.optim.Adam
      lr: 0.01
      param_groups:
        _target_: my_package.param_groups   # def param_groups(model) -> list of dicts

A scheduler config is a ``_target_`` without ``optimizer``. Schedulers that combine others
(``torch.optim.lr_scheduler.SequentialLR``, ``ChainedScheduler``) list them under
``schedulers``; each is built with the same optimizer first::

    scheduler:
      _target_: torch.optim.lr_scheduler.SequentialLR
      milestones: [10]
      schedulers:
        - {_target_: torch.optim.lr_scheduler.LinearLR, start_factor: 0.1, total_iters: 10}
        - {_target_: torch.optim.lr_scheduler.CosineAnnealingLR, T_max: 90}
"""

from typing import Any, Dict, Mapping

import torch

from nequip.data.instantiation import instantiate, to_plain

#: Key of an optimizer config naming its parameter-group factory.
PARAM_GROUPS_KEY = "param_groups"
#: Key of a scheduler config listing the schedulers it combines.
NESTED_SCHEDULERS_KEY = "schedulers"


def _target_config(config: Any, argument: str) -> Dict[str, Any]:
    config = to_plain(config)
    if not isinstance(config, Mapping) or "_target_" not in config:
        raise ValueError(f"{argument} must be a config with a _target_, got {config!r}")
    return dict(config)


def build_optimizer(config: Any, model: torch.nn.Module) -> torch.optim.Optimizer:
    """The optimizer of ``config`` over ``model``'s parameters (or the groups of its ``param_groups``).

    Raises:
        ValueError: for a config without ``_target_``, or one that sets ``params``.
    """
    config = _target_config(config, "optimizer")
    if "params" in config:
        raise ValueError(
            "optimizer must not set `params` (the training module passes the model's parameters); "
            f"use `{PARAM_GROUPS_KEY}: {{_target_: ...}}` for parameter groups"
        )
    groups_config = config.pop(PARAM_GROUPS_KEY, None)
    if groups_config is None:
        params = model.parameters()
    else:
        params = instantiate(_target_config(groups_config, f"optimizer.{PARAM_GROUPS_KEY}"), model=model)
    return instantiate(config, params=params)


def build_lr_scheduler(config: Any, optimizer: torch.optim.Optimizer) -> Any:
    """The scheduler of ``config`` on ``optimizer``; the schedulers listed under ``schedulers`` first.

    Raises:
        ValueError: for a config without ``_target_``, one that sets ``optimizer``, or a
            ``schedulers`` that is not a list.
    """
    config = _target_config(config, "lr_scheduler.scheduler")
    if "optimizer" in config:
        raise ValueError("a scheduler config must not set `optimizer` (the training module passes it)")
    nested = config.pop(NESTED_SCHEDULERS_KEY, None)
    if nested is None:
        return instantiate(config, optimizer=optimizer)
    if not isinstance(nested, list):
        raise ValueError(f"{config['_target_']}: `{NESTED_SCHEDULERS_KEY}` must be a list of configs, got {nested!r}")
    inner = [build_lr_scheduler(item, optimizer) for item in nested]
    return instantiate(config, optimizer=optimizer, schedulers=inner)
