"""``nequip-package``: write and inspect packaged models (``.nequip.zip``, see :mod:`nequip.model.package`).

Commands (upstream NequIP's names and positional arguments)::

    nequip-package build CKPT_PATH OUTPUT_PATH         # a checkpoint (or a package) -> a package
    nequip-package info PKG_PATH [--get-modifiers]     # metadata as JSON, the model is not built
    nequip-package modify INPUT_PATH OUTPUT_PATH --modifier NAME [key=value ...] [--modifier ...]
    nequip-package list PKG_PATH                       # the archive's members

``build`` packages the weights the checkpoint is evaluated with (its EMA weights when it has
them), loads the written package back and checks that it holds exactly those weights.
``modify`` applies persistent model modifiers to a packaged model; each ``value`` is read as
JSON when it parses (``shifts='{"Cu": -3.1}'``, ``shifts_trainable=true``), else as a string.
"""

import argparse
import json
import sys
import zipfile
from typing import Any, Dict, List, Optional

import torch


def _parse_modifier(words: List[str]) -> Dict[str, Any]:
    entry: Dict[str, Any] = {"modifier": words[0]}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise ValueError(f"--modifier {words[0]}: arguments are key=value, got {word!r}")
        try:
            entry[key] = json.loads(value)
        except json.JSONDecodeError:
            entry[key] = value
    return entry


def _write_checked(model: torch.nn.Module, output_path: str) -> Dict[str, Any]:
    from .package import ModelFromPackage, save_package

    metadata = save_package(output_path, model)
    reloaded = ModelFromPackage(output_path).state_dict()
    for name, tensor in model.state_dict().items():
        if not torch.equal(reloaded[name], tensor.detach().cpu()):
            raise RuntimeError(f"{output_path}: the packaged weight {name!r} differs from the model's")
    return metadata


def _summary(metadata: Dict[str, Any]) -> Dict[str, Any]:
    keys = ("format_version", "type_names", "r_max", "model_dtype", "versions")
    return {k: metadata[k] for k in keys}


def _build(args) -> None:
    from .package import load_saved_model

    model = load_saved_model(args.ckpt_path)
    metadata = _write_checked(model, args.output_path)
    print(f"wrote {args.output_path}: {json.dumps(_summary(metadata))}")


def _info(args) -> None:
    from .package import read_package_metadata

    metadata = read_package_metadata(args.pkg_path)
    if args.get_modifiers:
        print(json.dumps(metadata["model_modifiers"], indent=1))
    else:
        print(json.dumps({k: v for k, v in metadata.items() if k != "model_modifiers"}, indent=1))


def _modify(args) -> None:
    from nequip.nn.model_modifier_utils import find_model_modifiers, model_modifier_info

    from .modifiers import modify
    from .package import ModelFromPackage

    if not args.modifier:
        raise ValueError("give at least one --modifier NAME [key=value ...]")
    entries = [_parse_modifier(words) for words in args.modifier]
    model = ModelFromPackage(args.input_path)
    available = find_model_modifiers(model)
    for entry in entries:
        modifier = available.get(entry["modifier"])
        if modifier is not None and not model_modifier_info(modifier).persistent:
            raise ValueError(
                f"{entry['modifier']} is not a persistent modifier (it changes how the model computes, not what); "
                "a package keeps only persistent ones: apply it after loading the model"
            )
    model = modify(model, entries)
    metadata = _write_checked(model, args.output_path)
    print(f"wrote {args.output_path}: {json.dumps(_summary(metadata))}")


def _list(args) -> None:
    from .package import read_package_metadata

    read_package_metadata(args.pkg_path)
    with zipfile.ZipFile(args.pkg_path) as archive:
        for info in archive.infolist():
            print(f"{info.file_size:>12}  {info.filename}")


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``nequip-package``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="nequip-package", description="Write and inspect packaged NequIP models (.nequip.zip)."
    )
    commands = parser.add_subparsers(dest="command", required=True, title="commands")
    build = commands.add_parser("build", help="package the model of a checkpoint (or repackage a package)")
    build.add_argument("ckpt_path", help="checkpoint file (nequip-train .ckpt, upstream's included) or package")
    build.add_argument("output_path", help="package file to write; the name must end in .nequip.zip")
    build.set_defaults(run=_build)
    info = commands.add_parser("info", help="print a package's metadata (JSON) without building the model")
    info.add_argument("pkg_path", help="package file")
    info.add_argument("--get-modifiers", action="store_true", help="print the model modifiers the model offers")
    info.set_defaults(run=_info)
    modify = commands.add_parser("modify", help="apply persistent model modifiers to a packaged model")
    modify.add_argument("input_path", help="package file to read")
    modify.add_argument("output_path", help="package file to write (.nequip.zip)")
    modify.add_argument(
        "--modifier",
        action="append",
        nargs="+",
        default=[],
        metavar="NAME_OR_KEY=VALUE",
        help="a modifier name followed by its key=value arguments (JSON values); may be repeated",
    )
    modify.set_defaults(run=_modify)
    listing = commands.add_parser("list", help="list the files inside a package")
    listing.add_argument("pkg_path", help="package file")
    listing.set_defaults(run=_list)
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (ValueError, RuntimeError) as err:
        print(f"nequip-package: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
