"""Checkpoints written by upstream NequIP 0.19's ``nequip-train``, converted to our schema when read.

An upstream checkpoint is a Lightning checkpoint (it loads with
``torch.load(weights_only=True)``) with

* ``hyper_parameters["model"]``: the model config, statistics resolved (e.g.
  ``{"_target_": "nequip.model.NequIPGNNModel", "seed": ..., "avg_num_neighbors": 17.7, ...}``);
  our builders of the same name take the same arguments;
* ``state_dict``: the Lightning module's, the model under ``model.sole_model.``, and, for an
  ``EMALightningModule``, the EMA weights as ``ema.ema_weight_{i}``, one per model parameter in
  the order of ``model.parameters()`` (``ema._extra_state["is_holding_ema_weights"]`` says
  whether they are the averages or, while they are swapped, the raw weights).

:func:`convert_upstream_checkpoint` turns such a dict into the payload of
:mod:`nequip.model.checkpoint`: the config as it is, the model's state dict under our names
(:mod:`nequip.model.upstream_names`; a few buffers that our modules recompute are dropped, a
parameter stored with another shape of the same size is reshaped), and the EMA weights by
parameter name. Anything it cannot place is an error naming the entries.
"""

from typing import Any, Dict, List, Optional, Tuple

import torch

from .upstream_names import UPSTREAM_DERIVED_BUFFERS, our_name

#: Prefix of the model's entries in an upstream Lightning module's state dict.
UPSTREAM_MODEL_PREFIX = "model.sole_model."
#: Prefix of the EMA weights of an upstream ``EMALightningModule``.
UPSTREAM_EMA_PREFIX = "ema.ema_weight_"
_UPSTREAM_EMA_STATE = "ema._extra_state"
#: Model sources of upstream configs that read other files (their models cannot be converted alone).
_UPSTREAM_FILE_SOURCES = ("nequip.model.ModelFromCheckpoint", "nequip.model.ModelFromPackage")


def is_upstream_checkpoint(checkpoint: Any) -> bool:
    """Whether a loaded checkpoint dict has the layout of upstream NequIP's ``nequip-train``."""
    if not isinstance(checkpoint, dict):
        return False
    hyper_parameters = checkpoint.get("hyper_parameters")
    return (
        isinstance(hyper_parameters, dict)
        and isinstance(hyper_parameters.get("model"), dict)
        and isinstance(checkpoint.get("state_dict"), dict)
        and any(isinstance(k, str) and k.startswith(UPSTREAM_MODEL_PREFIX) for k in checkpoint["state_dict"])
    )


def upstream_model_config(checkpoint: Dict[str, Any], source: str) -> Dict[str, Any]:
    """The model config of an upstream checkpoint.

    Raises:
        ValueError: for a config without ``_target_`` or one that loads its model from another
            file (an upstream fine-tuning run): convert the checkpoint it started from instead.
    """
    config = checkpoint["hyper_parameters"]["model"]
    target = config.get("_target_")
    if not isinstance(target, str):
        raise ValueError(f"{source!r}: the upstream model config has no _target_")
    nested = [target] + [v.get("_target_") for v in config.values() if isinstance(v, dict)]
    readers = [t for t in nested if t in _UPSTREAM_FILE_SOURCES]
    if readers:
        raise ValueError(
            f"{source!r}: this upstream checkpoint's model comes from {readers[0]} (an upstream fine-tuning run); "
            "its weights cannot be converted without upstream's own files: convert a checkpoint of a model "
            "trained from a model builder"
        )
    return dict(config)


def _model_entries(state_dict: Dict[str, torch.Tensor]) -> List[Tuple[str, torch.Tensor]]:
    """The model's entries, in their stored order, under our names (derived buffers dropped)."""
    entries = []
    for name, tensor in state_dict.items():
        if not name.startswith(UPSTREAM_MODEL_PREFIX):
            continue
        name = name[len(UPSTREAM_MODEL_PREFIX) :]
        if name.endswith(UPSTREAM_DERIVED_BUFFERS):
            continue
        entries.append((our_name(name), tensor))
    return entries


def _fit(name: str, tensor: torch.Tensor, like: torch.Tensor, source: str) -> torch.Tensor:
    if tensor.shape == like.shape:
        return tensor
    if tensor.numel() != like.numel():
        raise ValueError(
            f"{source!r}: upstream entry for {name!r} has shape {tuple(tensor.shape)}, our model needs {tuple(like.shape)}"
        )
    return tensor.reshape(like.shape)


def convert_upstream_checkpoint(
    checkpoint: Dict[str, Any], model: torch.nn.Module, source: str
) -> Tuple[Dict[str, torch.Tensor], Optional[Dict[str, torch.Tensor]]]:
    """The state dict and EMA weights of an upstream checkpoint, under our names, for ``model``.

    Args:
        checkpoint: the upstream checkpoint dict (:func:`is_upstream_checkpoint`).
        model: our model built from :func:`upstream_model_config`.
        source: the file, for error messages.

    Returns:
        ``(state_dict, ema_state_dict)``; ``ema_state_dict`` is ``None`` without EMA weights.

    Raises:
        ValueError: for entries our model lacks, entries of our model the checkpoint lacks,
            shapes of different sizes, or EMA weights that do not match the parameters.
    """
    ours = model.state_dict()
    entries = _model_entries(checkpoint["state_dict"])
    unknown = [name for name, _ in entries if name not in ours]
    missing = sorted(set(ours) - {name for name, _ in entries})
    if unknown or missing:
        raise ValueError(
            f"{source!r}: the upstream model's weights do not fit the model rebuilt from its config: "
            f"upstream entries without a counterpart {unknown[:5]}, entries of ours not in the file {missing[:5]}"
        )
    state_dict = {name: _fit(name, tensor, ours[name], source) for name, tensor in entries}

    ema_names = sorted(
        (
            k
            for k in checkpoint["state_dict"]
            if k.startswith(UPSTREAM_EMA_PREFIX) and k[len(UPSTREAM_EMA_PREFIX) :].isdigit()
        ),
        key=lambda k: int(k[len(UPSTREAM_EMA_PREFIX) :]),
    )
    if not ema_names:
        return state_dict, None
    # upstream's EMA weights follow model.parameters(), i.e. the parameters in state-dict order
    parameters = dict(model.named_parameters())
    parameter_order = [name for name, _ in entries if name in parameters]
    if len(ema_names) != len(parameter_order):
        raise ValueError(
            f"{source!r}: {len(ema_names)} upstream EMA weights for {len(parameter_order)} model parameters"
        )
    ema = {
        name: _fit(name, checkpoint["state_dict"][key], parameters[name], source)
        for name, key in zip(parameter_order, ema_names)
    }
    ema_state = checkpoint["state_dict"].get(_UPSTREAM_EMA_STATE)
    if isinstance(ema_state, dict) and ema_state.get("is_holding_ema_weights") is False:
        # saved while swapped: the model holds the averages, the EMA buffers the raw weights
        ema, raw = {name: state_dict[name] for name in ema}, ema
        state_dict.update(raw)
    return state_dict, ema
