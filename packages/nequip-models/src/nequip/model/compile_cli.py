"""``nequip-compile CHECKPOINT OUTPUT [--mode aotinductor|export] [--device cpu|cuda] [--cpu-threads N] [--target NAME]``.

Exports the model of a checkpoint (EMA weights when present; a nequip-train ``.ckpt``, a
file of ``nequip.model.save_model_checkpoint`` or an upstream NequIP checkpoint) or of a
package (``.nequip.zip`` of ``nequip-package``) to one deployable ``.pt2`` file with its
metadata, checks it against the eager model, and prints the metadata.

``--target`` names what the file is for (a registered compile target, see
:mod:`nequip.scripts._compile_utils`): ``ase`` (the default) for
``NequIPCalculator.from_compiled_model(OUTPUT)`` and
``nequip.model.export.load_exported_model(OUTPUT)``; installed extension packages add
theirs (``lammps`` from ``nequip-lammps``: the file ``pair_style nequip`` reads). A target
with options of its own (``lammps``: ``--units``, ``--num-layers``) gets them as further
command-line options. See :mod:`nequip.model.export`.
"""

import argparse
import json
import sys
from typing import Any, Dict, List, Optional

_OPTION_PREFIX = "target_option:"  # argparse destination of a target's option


def _parser(targets: Dict[str, Dict[str, Any]]) -> argparse.ArgumentParser:
    from nequip.scripts._compile_utils import ASE_TARGET

    from .export import EXPORT_MODES

    parser = argparse.ArgumentParser(
        prog="nequip-compile",
        description="Export the model of a NequIP checkpoint or package to one deployable .pt2 file (torch.export / AOTInductor).",
    )
    parser.add_argument(
        "checkpoint", help="checkpoint file (nequip-train .ckpt or save_model_checkpoint file) or package (.nequip.zip)"
    )
    parser.add_argument("output", help="file to write (.pt2)")
    parser.add_argument(
        "--mode",
        choices=EXPORT_MODES,
        default="aotinductor",
        help="aotinductor: compiled C++/CUDA package, fastest (default); export: torch.export ExportedProgram, portable",
    )
    parser.add_argument("--device", default="cpu", help="device the exported model runs on (default: cpu)")
    parser.add_argument(
        "--cpu-threads",
        type=int,
        default=None,
        help="threads the simulations will use: an AOTInductor package's CPU kernels are generated for this count "
        "(default: this process's torch thread count, e.g. OMP_NUM_THREADS)",
    )
    parser.add_argument(
        "--target",
        choices=sorted(targets),
        default=ASE_TARGET,
        help=f"what the file is for: its input and output fields (default: {ASE_TARGET}, for NequIPCalculator; "
        "installed extensions add theirs, e.g. lammps for pair_style nequip)",
    )
    # the targets' own options; targets that declare the same name share it (the first one's help)
    added = set()
    for name, target in sorted(targets.items()):
        fresh = {option: kwargs for option, kwargs in target["options"].items() if option not in added}
        if not fresh:
            continue
        group = parser.add_argument_group(f"options of --target {name}")
        for option, kwargs in fresh.items():
            flag = option.replace("_", "-")
            kwargs = {"metavar": option.upper(), **kwargs} if "choices" not in kwargs else dict(kwargs)
            group.add_argument(f"--{flag}", dest=f"{_OPTION_PREFIX}{option}", default=None, **kwargs)
            added.add(option)
    return parser


def _target_options(args: argparse.Namespace, targets: Dict[str, Dict[str, Any]]) -> Dict[str, Any]:
    """The target options given; raises ValueError for options the chosen target does not take."""
    given = {
        dest[len(_OPTION_PREFIX) :]: value
        for dest, value in vars(args).items()
        if dest.startswith(_OPTION_PREFIX) and value is not None
    }
    foreign = sorted(option for option in given if option not in targets[args.target]["options"])
    if foreign:
        owners = {
            option: sorted(name for name, target in targets.items() if option in target["options"])
            for option in foreign
        }
        listed = [f"--{option.replace('_', '-')} (of --target {', '.join(owners[option])})" for option in foreign]
        raise ValueError(f"options {listed} do not apply to --target {args.target}")
    return given


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``nequip-compile``; returns the exit status."""
    from .extensions import load_extensions

    load_extensions()  # installed extension packages register their compile targets and externs

    from nequip.scripts._compile_utils import compile_target, compile_target_names

    targets = {name: compile_target(name) for name in compile_target_names()}
    args = _parser(targets).parse_args(argv)

    import torch

    from .export import export_model
    from .package import load_saved_model

    try:
        options = _target_options(args, targets)
        device = torch.device(args.device)
        model = load_saved_model(args.checkpoint)
        metadata = export_model(
            model,
            args.output,
            mode=args.mode,
            device=device,
            cpu_threads=args.cpu_threads,
            target=args.target,
            target_options=options,
        )
    except (ValueError, RuntimeError) as err:
        print(f"nequip-compile: error: {err}", file=sys.stderr)
        return 1
    summary = {
        k: metadata.get(k)
        for k in ("target", "mode", "device", "cpu_threads", "type_names", "r_max", "model_dtype", "output_fields")
    }
    print(f"wrote {args.output}: {json.dumps(summary)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
