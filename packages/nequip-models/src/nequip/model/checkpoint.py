"""Model checkpoints: what a checkpoint file holds about its model, and loading models from it.

Schema
------
A checkpoint file is a ``dict`` saved with ``torch.save`` (a Lightning checkpoint is
such a dict). Its model lives under the top-level key :data:`CHECKPOINT_KEY`
(``"nequip_model"``), a dict of:

* ``"format_version"``: int, :data:`CHECKPOINT_FORMAT_VERSION` (1);
* ``"config"``: the model builder config as plain data (dicts, lists, str, int, float,
  bool, None) with a ``_target_``, e.g.
  ``{"_target_": "nequip.model.NequIPGNNModel", "seed": 0, "model_dtype": "float32",
  "type_names": [...], "r_max": 5.0, ...}`` (``model.model_config`` of a model built by
  a :func:`~nequip.model.model_builder`);
* ``"state_dict"``: ``{name: tensor}``, the model's ``state_dict()`` (keys of the
  ``GraphModel``, e.g. ``"model.func.type_embed.embedding.weight"``);
* ``"ema_state_dict"`` (optional, may be ``None``): ``{name: tensor}`` with the
  exponential-moving-average weights: every parameter of the model, buffers optional
  (those absent are taken from ``"state_dict"``).

Everything else in the file (optimizer states, Lightning's own keys, ...) is ignored
here. The whole file must load with ``torch.load(weights_only=True)``: plain containers,
numbers, strings and tensors only, so that loading runs no code from the file. For the
same reason, the config's top-level ``_target_`` must name a model builder (a function
decorated with :func:`~nequip.model.model_builder`) or :func:`~nequip.model.modify` around
one, and any nested ``_target_`` a graph module class (e.g. a ``pair_potential``); see
:func:`~nequip.model.sources.check_stored_model_config`.

Writing: a trainer calls :func:`model_checkpoint_payload` (e.g. in Lightning's
``on_save_checkpoint``: ``checkpoint[CHECKPOINT_KEY] = model_checkpoint_payload(model, ema)``)
or :func:`save_model_checkpoint` for a stand-alone file.

Example:
    >>> import os, tempfile
    >>> from nequip.model import NequIPGNNModel
    >>> model = NequIPGNNModel(seed=0, model_dtype="float64", type_names=["H"], r_max=3.0, num_layers=1,
    ...                        num_features=4, avg_num_neighbors=2.0, per_type_energy_scales=1.0,
    ...                        per_type_energy_shifts=-0.5)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.ckpt")
    >>> save_model_checkpoint(path, model)
    >>> ModelFromCheckpoint(path).metadata["type_names"]
    'H'
"""

import os
from typing import Any, Dict, Mapping, Optional

import torch

from .builder import COMPILE_MODES, override_model_compile_mode
from .sources import check_stored_model_config, model_from_config
from .upstream_checkpoint import convert_upstream_checkpoint, is_upstream_checkpoint, upstream_model_config

#: Top-level key of a checkpoint dict under which the model is stored.
CHECKPOINT_KEY = "nequip_model"
#: Version of the schema written by :func:`model_checkpoint_payload`.
CHECKPOINT_FORMAT_VERSION = 1

_PLAIN_SCALARS = (str, int, float, bool, type(None))


def _check_plain(value: Any, path: str) -> None:
    """Raise ``ValueError`` naming the first entry of ``value`` that is not plain data."""
    if isinstance(value, _PLAIN_SCALARS):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"model config entry {path} has a non-string key {key!r}")
            _check_plain(item, f"{path}.{key}")
        return
    raise ValueError(
        f"model config entry {path} is a {type(value).__name__}, not plain data; a checkpoint stores the "
        "config as plain data so that the model can be rebuilt without unpickling objects (give e.g. "
        "pair_potential as a config dict with _target_ instead of a built module)"
    )


def model_checkpoint_payload(
    model: torch.nn.Module, ema_state_dict: Optional[Mapping[str, torch.Tensor]] = None
) -> Dict[str, Any]:
    """The value to store under :data:`CHECKPOINT_KEY` for ``model`` (see the module docstring).

    Args:
        model: a model built by a model builder (it has ``model_config``).
        ema_state_dict: optional EMA weights ``{name: tensor}`` (names of ``model.state_dict()``).

    Raises:
        ValueError: if ``model`` was not built by a model builder, its config is not plain
            data, or ``ema_state_dict`` has names the model does not have.
    """
    config = getattr(model, "model_config", None)
    if not isinstance(config, dict) or "_target_" not in config:
        raise ValueError(
            f"model (a {type(model).__name__}) has no model_config with a _target_; only models built by a "
            "model builder (e.g. nequip.model.NequIPGNNModel) can be checkpointed"
        )
    _check_plain(config, "config")
    state = {name: tensor.detach() for name, tensor in model.state_dict().items()}
    payload: Dict[str, Any] = {"format_version": CHECKPOINT_FORMAT_VERSION, "config": config, "state_dict": state}
    if ema_state_dict is not None:
        unknown = sorted(set(ema_state_dict) - set(state))
        if unknown:
            raise ValueError(f"ema_state_dict has names the model does not have: {unknown[:5]}")
        payload["ema_state_dict"] = {name: tensor.detach() for name, tensor in ema_state_dict.items()}
    return payload


def save_model_checkpoint(
    path: str,
    model: torch.nn.Module,
    ema_state_dict: Optional[Mapping[str, torch.Tensor]] = None,
    extra: Optional[Mapping[str, Any]] = None,
) -> None:
    """Write a checkpoint file with ``model`` (and optional EMA weights) under :data:`CHECKPOINT_KEY`.

    Args:
        path: file to write.
        model: a model built by a model builder.
        ema_state_dict: optional EMA weights.
        extra: other top-level entries (plain data and tensors only), e.g. training state.
    """
    checkpoint = dict(extra or {})
    if CHECKPOINT_KEY in checkpoint:
        raise ValueError(f"extra must not contain the key {CHECKPOINT_KEY!r}")
    checkpoint[CHECKPOINT_KEY] = model_checkpoint_payload(model, ema_state_dict)
    torch.save(checkpoint, path)


def _load_checkpoint_file(checkpoint_path: str) -> Any:
    if not os.path.isfile(checkpoint_path):
        raise ValueError(f"checkpoint_path {checkpoint_path!r} is not a file")
    try:
        return torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch.load raises many types on foreign files (e.g. KeyError)
        raise ValueError(
            f"cannot read {checkpoint_path!r} as a checkpoint with torch.load(weights_only=True) (a torch file of "
            f"plain containers and tensors): {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
        ) from err


def _checked_payload(checkpoint: Any, checkpoint_path: str) -> Dict[str, Any]:
    if not isinstance(checkpoint, dict) or CHECKPOINT_KEY not in checkpoint:
        found = sorted(checkpoint)[:10] if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ValueError(
            f"{checkpoint_path!r} is not a nequip model checkpoint: it needs a dict with the key {CHECKPOINT_KEY!r} "
            f"(see nequip.model.checkpoint), found {found}"
        )
    payload = checkpoint[CHECKPOINT_KEY]
    if not isinstance(payload, dict):
        raise ValueError(f"{checkpoint_path!r}: entry {CHECKPOINT_KEY!r} must be a dict, got {type(payload).__name__}")
    version = payload.get("format_version")
    if version != CHECKPOINT_FORMAT_VERSION:
        raise ValueError(
            f"{checkpoint_path!r}: checkpoint format_version {version!r} is not supported (this version reads {CHECKPOINT_FORMAT_VERSION})"
        )
    for name in ("config", "state_dict"):
        if not isinstance(payload.get(name), dict):
            raise ValueError(
                f"{checkpoint_path!r}: entry {CHECKPOINT_KEY}.{name} must be a dict, got {type(payload.get(name)).__name__}"
            )
    if "_target_" not in payload["config"]:
        raise ValueError(f"{checkpoint_path!r}: the model config has no _target_")
    ema = payload.get("ema_state_dict")
    if ema is not None and not isinstance(ema, dict):
        raise ValueError(f"{checkpoint_path!r}: entry {CHECKPOINT_KEY}.ema_state_dict must be a dict or None")
    check_stored_model_config(payload["config"], checkpoint_path)
    return payload


def read_model_checkpoint(checkpoint_path: str) -> Dict[str, Any]:
    """Load and validate the :data:`CHECKPOINT_KEY` entry of a checkpoint file.

    Returns:
        the payload dict (``format_version``, ``config``, ``state_dict``, optional ``ema_state_dict``).

    Raises:
        ValueError: for a missing file, a file ``torch.load(weights_only=True)`` cannot read
            (not a torch file, or holding objects other than plain data and tensors), or a
            dict without a valid model entry (what is wrong is named).
    """
    return _checked_payload(_load_checkpoint_file(checkpoint_path), checkpoint_path)


def _load_weights(model: torch.nn.Module, state_dict, ema, checkpoint_path: str) -> None:
    try:
        model.load_state_dict(state_dict, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{checkpoint_path!r}: the stored state_dict does not fit the rebuilt model: {err}") from err
    if ema is not None:
        missing_params = sorted(name for name, _ in model.named_parameters() if name not in ema)
        if missing_params:
            raise ValueError(f"{checkpoint_path!r}: ema_state_dict lacks parameters {missing_params[:5]}")
        result = model.load_state_dict(ema, strict=False)
        if result.unexpected_keys:
            raise ValueError(
                f"{checkpoint_path!r}: ema_state_dict has names the model does not have: {result.unexpected_keys[:5]}"
            )


def ModelFromCheckpoint(checkpoint_path: str, compile_mode: str = "eager") -> torch.nn.Module:
    """Rebuild the model of a checkpoint file, with its EMA weights when it has them.

    For evaluation and MD (``model = ModelFromCheckpoint("best.ckpt").eval()``), and as the
    model source of a training config, to fine-tune a trained model::

        model:
          _target_: nequip.model.ModelFromCheckpoint
          checkpoint_path: pretrained/best.ckpt

    The model is built from the stored config (same architecture, dtype and type names),
    then the stored ``state_dict`` is loaded, then the EMA weights if present. Its
    ``model_config`` is the stored config, so a checkpoint of a model fine-tuned from it
    rebuilds without this file (see :mod:`nequip.model.sources`).

    Checkpoints written by upstream NequIP 0.19's ``nequip-train`` are read too, converted
    on load (:mod:`nequip.model.upstream_checkpoint`).

    Args:
        checkpoint_path: path of a checkpoint file (see the module docstring).
        compile_mode: ``eager`` (default) or ``compile``; overrides the stored config's.

    Returns:
        the model (a ``GraphModel``), in training mode as built.

    Raises:
        ValueError: for an invalid file (see :func:`read_model_checkpoint`), or weights
            that do not fit the rebuilt model (missing/unexpected names).
    """
    if compile_mode not in COMPILE_MODES:
        raise ValueError(f"compile_mode={compile_mode!r} is not allowed; allowed are {list(COMPILE_MODES)}")
    checkpoint = _load_checkpoint_file(checkpoint_path)
    if isinstance(checkpoint, dict) and CHECKPOINT_KEY not in checkpoint and is_upstream_checkpoint(checkpoint):
        config = upstream_model_config(checkpoint, checkpoint_path)
        check_stored_model_config(config, checkpoint_path)
        with override_model_compile_mode(compile_mode):
            model = model_from_config(config)
        state_dict, ema = convert_upstream_checkpoint(checkpoint, model, checkpoint_path)
    else:
        payload = _checked_payload(checkpoint, checkpoint_path)
        with override_model_compile_mode(compile_mode):
            model = model_from_config(payload["config"])
        state_dict, ema = payload["state_dict"], payload.get("ema_state_dict")
    _load_weights(model, state_dict, ema, checkpoint_path)
    return model
