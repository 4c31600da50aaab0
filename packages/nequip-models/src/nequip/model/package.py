"""Packaged models (``.nequip.zip``): a trained model's code-free description and weights in one file.

A package is a zip archive of two members:

* ``nequip_package.json``: the metadata, JSON:

  - ``format`` (``"nequip-package"``) and ``format_version`` (:data:`PACKAGE_FORMAT_VERSION`);
    a reader refuses a version newer than it knows and keeps reading every older one;
  - ``model_config``: the model's config as plain data (a model builder, or ``modify``
    around one, as in a checkpoint: see :mod:`nequip.model.sources`);
  - ``type_names``, ``r_max``, ``model_dtype``, ``per_edge_type_cutoff`` (or ``null``),
    ``metadata`` (the model's ``str -> str`` metadata): read without building the model
    (:func:`type_names_from_package`, :func:`cutoff_radius_from_package`);
  - ``model_modifiers``: the model modifiers the model offers (name, persistent, summary);
  - ``versions``: the versions of the packages and of torch that wrote it;
* ``weights.pt``: ``{"state_dict": {name: tensor}}`` saved with ``torch.save``, the weights the
  model is evaluated with (the EMA weights of a checkpoint that has them).

Nothing in it is pickled code: the metadata is JSON and the weights load with
``torch.load(weights_only=True)``, so opening a package from elsewhere runs no code from it.
Unlike upstream NequIP's packages (``torch.package`` archives of the model's code), the
model is rebuilt by the installed packages from its config; the format version is what lets
later versions of them keep reading today's files.

Write one with ``nequip-package build`` (:mod:`nequip.model.package_cli`) or
:func:`save_package`; load it with :func:`ModelFromPackage`.

Example:
    >>> import os, tempfile
    >>> from nequip.model import NequIPGNNModel
    >>> model = NequIPGNNModel(seed=0, model_dtype="float64", type_names=["H", "O"], r_max=3.0, num_layers=1,
    ...                        num_features=4, avg_num_neighbors=2.0, per_type_energy_scales=1.0,
    ...                        per_type_energy_shifts=-0.5)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.nequip.zip")
    >>> _ = save_package(path, model)
    >>> type_names_from_package(path), cutoff_radius_from_package(path)
    (['H', 'O'], 3.0)
    >>> ModelFromPackage(path).type_names
    ['H', 'O']
"""

import importlib.metadata
import inspect
import io
import json
import math
import os
import zipfile
from typing import Any, Dict, List

import torch

from nequip.nn.model_modifier_utils import find_model_modifiers, model_modifier_info

from .builder import COMPILE_MODES, override_model_compile_mode
from .sources import check_stored_model_config, model_from_config

#: File name ending of a package (required when writing one, as upstream NequIP does).
PACKAGE_SUFFIX = ".nequip.zip"
#: Version of the package format written here (see the module docstring).
PACKAGE_FORMAT_VERSION = 1
#: The value of the metadata's ``format`` entry.
PACKAGE_FORMAT = "nequip-package"
#: Archive member holding the metadata (JSON).
METADATA_MEMBER = "nequip_package.json"
#: Archive member holding the weights (``torch.save`` of ``{"state_dict": ...}``).
WEIGHTS_MEMBER = "weights.pt"
#: Distributions whose versions a package records.
_RECORDED_DISTRIBUTIONS = ("nequip-models", "nequip-nn", "nequip-data", "nequip-potentials", "e3nn", "torch")


def _versions() -> Dict[str, str]:
    out = {}
    for name in _RECORDED_DISTRIBUTIONS:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def _modifier_summaries(model: torch.nn.Module) -> List[Dict[str, Any]]:
    out = []
    for name, modifier in sorted(find_model_modifiers(model).items()):
        info = model_modifier_info(modifier)
        if info.private:
            continue
        doc = inspect.getdoc(modifier) or ""
        out.append({"name": name, "persistent": info.persistent, "summary": doc.split("\n")[0]})
    return out


def _check_finite(value: Any, path: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{path} = {value} cannot be stored in a package (JSON numbers are finite)")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(item, f"{path}.{key}")
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_finite(item, f"{path}[{i}]")


def package_metadata(model: torch.nn.Module) -> Dict[str, Any]:
    """The metadata a package of ``model`` holds (see the module docstring).

    Raises:
        ValueError: if ``model`` has no ``model_config`` (it must come from a model builder,
            a model loader or ``modify``), or its config is not plain, finite data.
    """
    from .checkpoint import model_checkpoint_payload

    config = model_checkpoint_payload(model)["config"]  # checks the config is plain data
    _check_finite(config, "model_config")
    metadata = dict(model.metadata)
    return {
        "format": PACKAGE_FORMAT,
        "format_version": PACKAGE_FORMAT_VERSION,
        "model_config": config,
        "type_names": list(model.type_names),
        "r_max": float(model.r_max),
        "model_dtype": metadata["model_dtype"],
        "per_edge_type_cutoff": model.per_edge_type_cutoff,
        "metadata": metadata,
        "model_modifiers": _modifier_summaries(model),
        "versions": _versions(),
    }


def save_package(package_path: str, model: torch.nn.Module) -> Dict[str, Any]:
    """Write ``model`` (its config and its current weights) as a package file.

    Args:
        package_path: the file to write; its name must end in ``.nequip.zip``.
        model: a model with a ``model_config`` (from a model builder, ``ModelFromCheckpoint``,
            ``ModelFromPackage`` or ``modify``), holding the weights to package.

    Returns:
        the metadata written.

    Raises:
        ValueError: for another file name ending, or a model that cannot be packaged.
    """
    if not str(package_path).endswith(PACKAGE_SUFFIX):
        raise ValueError(f"package_path {str(package_path)!r} must end in {PACKAGE_SUFFIX!r}")
    metadata = package_metadata(model)
    check_stored_model_config(metadata["model_config"], str(package_path))
    weights = io.BytesIO()
    torch.save({"state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}, weights)
    with zipfile.ZipFile(package_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(METADATA_MEMBER, json.dumps(metadata, indent=1, allow_nan=False))
        archive.writestr(WEIGHTS_MEMBER, weights.getvalue())
    return metadata


def is_package(path: str) -> bool:
    """Whether ``path`` is a package file (a zip archive with the package metadata member)."""
    if not os.path.isfile(path) or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return METADATA_MEMBER in archive.namelist()


def read_package_metadata(package_path: str) -> Dict[str, Any]:
    """The metadata of a package file, checked (see the module docstring); the model is not built.

    Raises:
        ValueError: for a missing file, a file that is not a package, or a format version
            newer than this version of nequip-models reads.
    """
    if not os.path.isfile(package_path):
        raise ValueError(f"package_path {package_path!r} is not a file")
    if not zipfile.is_zipfile(package_path):
        raise ValueError(
            f"{package_path!r} is not a package: not a zip archive (write packages with nequip-package build)"
        )
    with zipfile.ZipFile(package_path) as archive:
        if METADATA_MEMBER not in archive.namelist():
            raise ValueError(
                f"{package_path!r} is not a package of this workspace: it has no {METADATA_MEMBER} (upstream NequIP's "
                "torch.package archives are not read; package the checkpoint with nequip-package build instead)"
            )
        metadata = json.loads(archive.read(METADATA_MEMBER))
    version = metadata.get("format_version") if isinstance(metadata, dict) else None
    if metadata.get("format") != PACKAGE_FORMAT or not isinstance(version, int):
        raise ValueError(f"{package_path!r}: {METADATA_MEMBER} does not describe a {PACKAGE_FORMAT} file")
    if not 1 <= version <= PACKAGE_FORMAT_VERSION:
        raise ValueError(
            f"{package_path!r}: package format_version {version} is not supported (this version reads 1 to "
            f"{PACKAGE_FORMAT_VERSION}; a newer nequip-models wrote it)"
        )
    return metadata


def type_names_from_package(package_path: str) -> List[str]:
    """The type names of a packaged model, read from its metadata (the model is not built)."""
    return list(read_package_metadata(package_path)["type_names"])


def cutoff_radius_from_package(package_path: str) -> float:
    """The cutoff radius ``r_max`` of a packaged model, read from its metadata (the model is not built)."""
    return float(read_package_metadata(package_path)["r_max"])


def ModelTypeNamesFromPackage(package_path: str) -> List[str]:
    """Upstream NequIP's name for :func:`type_names_from_package` (e.g. for a fine-tuning data set's type mapper)."""
    return type_names_from_package(package_path)


def ModelFromPackage(package_path: str, compile_mode: str = "eager") -> torch.nn.Module:
    """Rebuild the model of a package file with its weights.

    For evaluation and MD, and as the model source of a training config (fine-tuning)::

        model:
          _target_: nequip.model.ModelFromPackage
          package_path: pretrained.nequip.zip

    Its ``model_config`` is the packaged config, so a checkpoint of a model fine-tuned from
    the package rebuilds without the package.

    Args:
        package_path: a ``.nequip.zip`` written by ``nequip-package`` or :func:`save_package`.
        compile_mode: ``eager`` (default) or ``compile``.

    Returns:
        the model (a ``GraphModel``), in training mode as built.

    Raises:
        ValueError: for an invalid file (see :func:`read_package_metadata`), a config that
            names something other than model builders and graph modules, or weights that do
            not fit the rebuilt model.
    """
    if compile_mode not in COMPILE_MODES:
        raise ValueError(f"compile_mode={compile_mode!r} is not allowed; allowed are {list(COMPILE_MODES)}")
    metadata = read_package_metadata(package_path)
    config = metadata["model_config"]
    check_stored_model_config(config, package_path)
    with zipfile.ZipFile(package_path) as archive:
        weights = torch.load(io.BytesIO(archive.read(WEIGHTS_MEMBER)), map_location="cpu", weights_only=True)
    with override_model_compile_mode(compile_mode):
        model = model_from_config(config)
    try:
        model.load_state_dict(weights["state_dict"], strict=True)
    except RuntimeError as err:
        raise ValueError(f"{package_path!r}: the packaged weights do not fit the rebuilt model: {err}") from err
    return model


def load_saved_model(path: str, compile_mode: str = "eager") -> torch.nn.Module:
    """The model of a package file (:func:`ModelFromPackage`) or of a checkpoint
    (:func:`~nequip.model.ModelFromCheckpoint`), told apart by the file's content."""
    if is_package(path):
        return ModelFromPackage(path, compile_mode=compile_mode)
    from .checkpoint import ModelFromCheckpoint

    return ModelFromCheckpoint(path, compile_mode=compile_mode)
