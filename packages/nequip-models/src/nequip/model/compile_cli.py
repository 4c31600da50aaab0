"""``nequip-compile CHECKPOINT OUTPUT [--mode aotinductor|export] [--device cpu|cuda] [--cpu-threads N]``.

Exports the model of a checkpoint (EMA weights when present; a nequip-train ``.ckpt``, a
file of ``nequip.model.save_model_checkpoint`` or an upstream NequIP checkpoint) or of a
package (``.nequip.zip`` of ``nequip-package``) to one deployable ``.pt2`` file with its
metadata, checks it against the eager model on two example frames, and prints the
metadata. Load it with ``NequIPCalculator.from_compiled_model(OUTPUT)`` or
``nequip.model.export.load_exported_model(OUTPUT)``. See :mod:`nequip.model.export`.
"""

import argparse
import json
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point of ``nequip-compile``; returns the exit status."""
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
    args = parser.parse_args(argv)
    from .extensions import load_extensions

    load_extensions()  # installed extension packages register their compile targets and externs

    import torch

    from .export import export_model
    from .package import load_saved_model

    try:
        device = torch.device(args.device)
        model = load_saved_model(args.checkpoint)
        metadata = export_model(model, args.output, mode=args.mode, device=device, cpu_threads=args.cpu_threads)
    except (ValueError, RuntimeError) as err:
        print(f"nequip-compile: error: {err}", file=sys.stderr)
        return 1
    summary = {
        k: metadata[k] for k in ("mode", "device", "cpu_threads", "type_names", "r_max", "model_dtype", "output_fields")
    }
    print(f"wrote {args.output}: {json.dumps(summary)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
