# nequip.nn is shared with other distributions (nequip-potentials ships nequip.nn.pair_potential):
# extend the package path over every installed copy before anything else is imported.
__path__ = __import__("pkgutil").extend_path(__path__, __name__)

__doc__ = """E(3)-equivariant graph layers for NequIP-style interatomic potentials.

The names below are those extension packages written for upstream NequIP import from
``nequip.nn``; each lives in one of this package's modules (``nequip.nn.graph_module``,
``nequip.nn.interaction``, ...), which stay the place to read and to import from inside the
workspace. Other distributions add whole subpackages to the namespace (``nequip-potentials``
ships :mod:`nequip.nn.pair_potential`).
"""

from .e3nn_import import import_e3nn  # noqa: E402

import_e3nn()  # before any module below imports e3nn: keeps torch._dynamo out of processes that never compile

from .atomwise import AtomwiseLinear, AtomwiseOperation, AtomwiseReduce  # noqa: E402
from .convnet import ConvNetLayer  # noqa: E402
from .field_modules import ApplyFactor, Concat, SaveForOutput  # noqa: E402
from .force_stress import ForceStressOutput, PartialForceOutput  # noqa: E402
from .graph_module import GraphModel, GraphModuleMixin, SequentialGraphNetwork  # noqa: E402
from .interaction import InteractionBlock  # noqa: E402
from .mlp import ScalarMLP, ScalarMLPFunction, ShiftedSoftplus  # noqa: E402
from .model_modifier_utils import model_modifier, replace_submodules  # noqa: E402
from .neighbor_norm import AvgNumNeighborsNorm  # noqa: E402
from .scale_shift import PerTypeScaleShift  # noqa: E402
from .utils import scatter, tp_path_exists, with_edge_type_, with_edge_vectors_  # noqa: E402

__all__ = [
    "GraphModel",
    "GraphModuleMixin",
    "SequentialGraphNetwork",
    "AtomwiseOperation",
    "AtomwiseReduce",
    "AtomwiseLinear",
    "PerTypeScaleShift",
    "ShiftedSoftplus",
    "ScalarMLP",
    "ScalarMLPFunction",
    "InteractionBlock",
    "PartialForceOutput",
    "ForceStressOutput",
    "ConvNetLayer",
    "Concat",
    "ApplyFactor",
    "SaveForOutput",
    "scatter",
    "tp_path_exists",
    "with_edge_vectors_",
    "with_edge_type_",
    "model_modifier",
    "replace_submodules",
    "AvgNumNeighborsNorm",
]
