"""The ``lammps`` compile target: ``nequip-compile --mode aotinductor --target lammps`` writes what ``pair_style nequip`` reads.

Imported by ``nequip-compile`` (and ``nequip-train``) through this package's
``nequip.extension`` entry point; importing it registers

* the fields of the LAMMPS graph that are not standard ones: ``num_local`` (a per-frame
  int64, how many of the atoms are local), ``edge_energy_gradient`` (per edge, (3,)) and
  ``atomic_virial`` (per atom, (3, 3), what the plugin sums from the former);
* the compile target :data:`LAMMPS_TARGET`, whose export function is
  :func:`nequip.lammps.export.export_lammps_model` (the graph is not the model's forward
  pass but :class:`~nequip.lammps.export.LocalEnergyGraph`), with the options ``units`` and
  ``num_layers`` (``nequip-compile --units metal --num-layers 4``).
"""

from typing import Any, Dict, Optional, Sequence

import torch

from nequip.data import keys
from nequip.data.fields import register_fields
from nequip.scripts._compile_utils import register_compile_targets

#: the compile target's name, recorded as ``"target"`` in the metadata (the plugin checks it)
LAMMPS_TARGET = "lammps"
NUM_LOCAL = "num_local"  #: (1,) int64 input: the first ``num_local`` atoms are local
EDGE_ENERGY_GRADIENT = "edge_energy_gradient"  #: (E, 3) float64 output, dE/dr_ij, energy/length
ATOMIC_VIRIAL = "atomic_virial"  #: (N, 3, 3) float64, energy: per-atom virial from the edge gradients
#: the graph's positional inputs, in order
LAMMPS_INPUT_FIELDS = (keys.EDGE_VECTORS_KEY, keys.EDGE_INDEX_KEY, keys.ATOM_TYPE_KEY, NUM_LOCAL)
#: the graph's outputs, in order
LAMMPS_OUTPUT_FIELDS = (keys.TOTAL_ENERGY_KEY, keys.PER_ATOM_ENERGY_KEY, EDGE_ENERGY_GRADIENT)
#: LAMMPS unit styles a model can be exported for (both in Å; the plugin converts energies between them)
LAMMPS_UNITS = ("metal", "real")


def export_for_lammps(
    model: Any,
    path: str,
    *,
    mode: str,
    device: torch.device,
    cpu_threads: Optional[int],
    validation_frames: Optional[Sequence[Dict[str, torch.Tensor]]],
    inductor_configs: Optional[Dict[str, Any]],
    units: Optional[str] = None,
    num_layers: Optional[int] = None,
) -> Dict[str, Any]:
    """The ``export`` function of the target: :func:`~nequip.lammps.export.export_lammps_model`.

    Raises:
        ValueError: for a ``mode`` other than ``"aotinductor"``, a device other than the CPU
            or inductor options (the plugin runs CPU AOTInductor packages, compiled with the
            export's own settings), and what ``export_lammps_model`` refuses.
    """
    from .export import export_lammps_model

    if mode != "aotinductor":
        raise ValueError(
            f"target {LAMMPS_TARGET!r} needs mode 'aotinductor' (the plugin runs AOTInductor packages), got {mode!r}"
        )
    if torch.device(device).type != "cpu":
        raise ValueError(
            f"target {LAMMPS_TARGET!r} needs device 'cpu' (the plugin runs the model on the CPU), got {str(device)!r}"
        )
    if inductor_configs:
        raise ValueError(f"target {LAMMPS_TARGET!r} takes no inductor options, got {sorted(inductor_configs)}")
    return export_lammps_model(
        model, path, units=units, num_layers=num_layers, cpu_threads=cpu_threads, validation_frames=validation_frames
    )


register_fields(
    graph_fields=[NUM_LOCAL], long_fields=[NUM_LOCAL], edge_fields=[EDGE_ENERGY_GRADIENT], node_fields=[ATOMIC_VIRIAL]
)
register_compile_targets(
    {
        LAMMPS_TARGET: {
            "input": list(LAMMPS_INPUT_FIELDS),
            "output": list(LAMMPS_OUTPUT_FIELDS),
            "export": export_for_lammps,
            "options": {
                "units": {
                    "choices": list(LAMMPS_UNITS),
                    "help": "LAMMPS unit style of the training data (default: the units of the model's ZBL term; "
                    "required without one)",
                },
                "num_layers": {
                    "type": int,
                    "help": "message-passing layers: ghost atoms are needed num_layers x r_max deep "
                    "(default: counted from the model)",
                },
            },
        }
    }
)
