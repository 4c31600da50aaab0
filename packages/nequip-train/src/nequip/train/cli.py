"""The ``nequip-train`` command: train, validate and test a model from one YAML config.

    nequip-train -cp CONFIG_DIR -cn CONFIG_NAME [hydra overrides]

The config (read by hydra) has the sections ``run`` (a list of ``train``, ``val``,
``test``, done in order), ``data`` (a datamodule config), ``trainer`` (a
``lightning.Trainer`` config with loggers and callbacks) and ``training_module`` (a
:class:`~nequip.train.NequIPLightningModule` config), and optionally ``ckpt_path`` (a
checkpoint to restart from, e.g. ``++ckpt_path=outputs/.../last.ckpt``) and
``global_options`` (``allow_tf32``).

Outputs go to hydra's run directory: the checkpoints written by the config's
``ModelCheckpoint`` callbacks (``best.ckpt``, ``last.ckpt``), ``resolved_config.yaml``
(the config with statistics and interpolations filled in) and the logs.

Before any training, the run stops with a clear error for: a missing section, an unknown
``run`` entry, a ``${training_data_stats:NAME}`` that was not computed (the message lists
the names that were), data species the type mapper does not know, and a loss or metric
on a field the training data lacks.
"""

import logging
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

import torch

logger = logging.getLogger(__name__)

#: Allowed entries of ``run``.
RUN_TYPES = ("train", "val", "test")
#: Required top-level sections.
SECTIONS = ("run", "data", "trainer", "training_module")


class ConfigError(ValueError):
    """A config that cannot run; raised before any training."""


def _check_sections(config) -> List[str]:
    missing = [name for name in SECTIONS if name not in config or config[name] is None]
    if missing:
        raise ConfigError(f"the config lacks the section(s) {missing}; a training config needs {list(SECTIONS)}")
    run = list(config.run) if not isinstance(config.run, str) else [config.run]
    unknown = [entry for entry in run if entry not in RUN_TYPES]
    if unknown or not run:
        raise ConfigError(
            f"run={run}: unknown entries {unknown}; allowed are {list(RUN_TYPES)} (in the order to do them)"
        )
    return run


def _uses_stats(config) -> bool:
    from omegaconf import OmegaConf

    return "training_data_stats" in OmegaConf.to_yaml(config, resolve=False)


def _stats_from_checkpoint(ckpt_path: str) -> Optional[Dict[str, Any]]:
    from .lightning import STATS_CHECKPOINT_KEY

    if not os.path.isfile(ckpt_path):
        raise ConfigError(f"ckpt_path={ckpt_path!r} is not a file")
    checkpoint = torch.load(ckpt_path, map_location="cpu", weights_only=True)
    return checkpoint.get(STATS_CHECKPOINT_KEY)


def _resolve_training_module(config) -> None:
    """Resolve every interpolation of ``training_module`` now, so a bad statistic name stops the run before training."""
    from omegaconf import OmegaConf
    from omegaconf.errors import InterpolationResolutionError

    try:
        OmegaConf.to_container(config.training_module, resolve=True)
    except InterpolationResolutionError as err:
        cause = err.__cause__ if err.__cause__ is not None else err
        raise ConfigError(f"cannot resolve the training_module config: {cause}") from err


def _check_data_fields(datamodule, module) -> None:
    """A first training frame must carry every field the loss and metrics read."""
    datamodule.setup("fit")
    try:
        frame = datamodule.train_dataset[0][0]
    finally:
        datamodule.teardown("fit")
    managers = [("loss", module.loss), ("train_metrics", module.train_metrics)]
    managers += [(f"val_metrics[{i}]", m) for i, m in enumerate(module.val_metrics or [])]
    for name, manager in managers:
        if manager is None:
            continue
        missing = [field for field in manager.required_fields if field not in frame]
        if missing:
            raise ConfigError(
                f"training_module.{name} uses the field(s) {missing}, which the training data lack (its fields: "
                f"{sorted(frame)}); e.g. use nequip.train.EnergyOnlyLoss / EnergyOnlyMetrics for energy-only data"
            )


def _build_trainer(config, output_dir: str):
    import hydra.utils
    from lightning.pytorch.callbacks import ModelCheckpoint

    from .checkpoint_io import AtomicCheckpointIO

    trainer_config = config.trainer
    if "inference_mode" in trainer_config:
        raise ConfigError(
            "trainer.inference_mode must not be set: nequip-train sets it to False (forces need gradients)"
        )
    extra: Dict[str, Any] = {"inference_mode": False}
    if "plugins" not in trainer_config:
        extra["plugins"] = [AtomicCheckpointIO()]
    if "default_root_dir" not in trainer_config:
        extra["default_root_dir"] = output_dir
    callbacks = list(hydra.utils.instantiate(trainer_config.get("callbacks") or []))
    checkpointing = trainer_config.get("enable_checkpointing", True)
    if checkpointing and not any(isinstance(cb, ModelCheckpoint) for cb in callbacks):
        callbacks.append(ModelCheckpoint(dirpath=output_dir, filename="best", save_last=True))
    extra["callbacks"] = callbacks
    return hydra.utils.instantiate(trainer_config, **extra)


def _apply_global_options(config) -> None:
    options = config.get("global_options") or {}
    unknown = sorted(set(options) - {"allow_tf32"})
    if unknown:
        raise ConfigError(f"global_options has unknown keys {unknown}; allowed are ['allow_tf32']")
    if "allow_tf32" in options:
        from .callbacks.tf32_scheduler import set_tf32

        set_tf32(options.allow_tf32)


def run(config, output_dir: str) -> Dict[str, Any]:
    """Do the config's ``run`` (see the module docstring); outputs go to ``output_dir``.

    Returns:
        ``{"trainer": ..., "module": ..., "datamodule": ..., "results": {run type: metrics}}``.
    """
    import hydra.utils
    from omegaconf import OmegaConf

    from .resolvers import register_training_data_stats

    run_types = _check_sections(config)
    _apply_global_options(config)
    ckpt_path = config.get("ckpt_path")
    datamodule = hydra.utils.instantiate(config.data, _recursive_=False)

    stats = _stats_from_checkpoint(ckpt_path) if ckpt_path else None
    if stats is None and _uses_stats(config):
        stats = datamodule.get_statistics()
        if not stats:
            raise ConfigError("the config uses ${training_data_stats:...} but the data section has no `stats_manager`")
    register_training_data_stats(stats)
    _resolve_training_module(config)
    os.makedirs(output_dir, exist_ok=True)
    OmegaConf.save(config, os.path.join(output_dir, "resolved_config.yaml"), resolve=True)

    module = hydra.utils.instantiate(
        config.training_module,
        _recursive_=False,
        num_datasets={k: max(1, v) for k, v in datamodule.num_datasets.items()},
    )
    module.training_data_stats = stats
    _check_data_fields(datamodule, module)
    trainer = _build_trainer(config, output_dir)

    results: Dict[str, Any] = {}
    eval_ckpt = ckpt_path
    for run_type in run_types:
        if run_type == "train":
            trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path)
            best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback is not None else ""
            eval_ckpt = best or None
            results["train"] = {k: float(v) for k, v in trainer.callback_metrics.items()}
        elif run_type == "val":
            results["val"] = trainer.validate(module, datamodule=datamodule, ckpt_path=eval_ckpt)
        else:
            results["test"] = trainer.test(module, datamodule=datamodule, ckpt_path=eval_ckpt)
    return {"trainer": trainer, "module": module, "datamodule": datamodule, "results": results}


def run_config(
    config_dir: str,
    config_name: str,
    overrides: Sequence[str] = (),
    output_dir: str = ".",
    merge: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """Run a config in this process, as ``nequip-train -cp config_dir -cn config_name overrides`` would.

    Hydra's config (``${hydra:runtime.output_dir}``) points at ``output_dir``; ``merge`` (a
    nested dict, e.g. a YAML snippet) is merged into the config after the overrides.

    Returns:
        what :func:`run` returns.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    from .resolvers import register_resolvers

    register_resolvers()
    output_dir = os.path.abspath(output_dir)
    with initialize_config_dir(config_dir=os.path.abspath(config_dir), version_base=None):
        config = compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)
        with open_dict(config):
            config.hydra.runtime.output_dir = output_dir
        HydraConfig.instance().set_config(config)
        with open_dict(config):
            del config["hydra"]
        if merge:
            from omegaconf import OmegaConf

            OmegaConf.set_struct(config, False)  # a snippet may add keys
            config = OmegaConf.merge(config, merge)
        return run(config, output_dir)


def _absolute_config_path(argv: Sequence[str]) -> List[str]:
    """Make ``-cp``/``--config-path`` absolute (hydra would read a relative one from its own folder)."""
    out = list(argv)
    for i, arg in enumerate(out):
        if arg in ("-cp", "--config-path") and i + 1 < len(out):
            out[i + 1] = os.path.abspath(out[i + 1])
        elif arg.startswith("--config-path="):
            out[i] = "--config-path=" + os.path.abspath(arg.split("=", 1)[1])
    return out


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Entry point of ``nequip-train`` (arguments as hydra's: ``-cp DIR -cn NAME [overrides]``)."""
    import hydra
    from hydra.core.hydra_config import HydraConfig

    from nequip.model.extensions import load_extensions

    from .resolvers import register_resolvers

    load_extensions()  # installed extension packages (e.g. Allegro) register themselves before the config is read
    register_resolvers()
    sys.argv = [sys.argv[0]] + _absolute_config_path(sys.argv[1:] if argv is None else argv)

    @hydra.main(version_base=None, config_path=None)
    def _main(config) -> None:
        run(config, HydraConfig.get().runtime.output_dir)

    _main()


if __name__ == "__main__":
    main()
