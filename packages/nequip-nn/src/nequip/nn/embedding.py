"""Upstream NequIP's ``nequip.nn.embedding`` classes, with upstream's signatures and field shapes.

Extension packages written for upstream NequIP (Allegro) build their edge embeddings from
these. Each is a thin adapter over this package's own module:

* :class:`EdgeLengthNormalizer` over :class:`nequip.nn.radial.EdgeLengthNormalizer`; it
  writes ``normed_edge_lengths`` as (E, 1) and, with per-edge-type cutoffs, the edge types
  as (2, E) (row 0 the center's type, row 1 the neighbor's), upstream's shapes, where the
  workspace's own normalizer writes (E,) and the flat (E,) index ``t_i * T + t_j``.
* :class:`BesselEdgeLengthEncoding` over :class:`nequip.nn.radial.BesselEdgeLengthEncoding`,
  taking upstream's arguments (a ``cutoff`` module, no ``r_max``) and giving upstream's
  basis ``w_n sinc(w_n x) u(x)``, without the ``2 pi / r_max^2`` factor of the workspace's.
* :class:`PolynomialCutoff` and :class:`SphericalHarmonicEdgeAttrs` are the workspace's
  classes (same arguments as upstream's).
* :class:`AddRadialCutoffToData` writes the cutoff envelope of the normalized lengths for
  models whose embedding did not (e.g. before a pair potential).

The workspace's own models keep using :mod:`nequip.nn.radial`; ``edge_lengths`` stays (E,)
everywhere (upstream: (E, 1)).
"""

import math
from typing import Any, Mapping, Optional, Sequence

import torch

from nequip.data import AtomicDataDict, keys

from . import radial
from .graph_module import GraphModuleMixin
from .radial import PerEdgeTypeCutoff, PolynomialCutoff
from .spherical_harmonics import SphericalHarmonicEdgeAttrs
from .utils import with_edge_type_

__all__ = [
    "EdgeLengthNormalizer",
    "BesselEdgeLengthEncoding",
    "SphericalHarmonicEdgeAttrs",
    "AddRadialCutoffToData",
    "PolynomialCutoff",
]

# The workspace's Bessel basis carries the factor 2 pi / r_max^2; upstream's public class has
# none. Building ours with this r_max makes the factor exactly 1.
_UNIT_PREFACTOR_R_MAX = math.sqrt(2.0 * math.pi)


class EdgeLengthNormalizer(radial.EdgeLengthNormalizer):
    """Write ``x = |r_ij| / r_c`` as (E, 1), and with per-edge-type cutoffs the (2, E) edge types.

    Args:
        r_max: global cutoff radius (length unit of the data).
        type_names: atom type names.
        per_edge_type_cutoff: optional per-edge-type cutoffs
            (see :func:`nequip.nn.radial.per_edge_type_cutoff_table`).
        edge_type_field: where the (2, E) int64 edge types are written (per-edge-type cutoffs only).
        norm_length_field: where the (E, 1) float64 normalized lengths are written.
        irreps_in: fields available before this module.
    """

    def __init__(
        self,
        r_max: float,
        type_names: Sequence[str],
        per_edge_type_cutoff: Optional[PerEdgeTypeCutoff] = None,
        edge_type_field: str = keys.EDGE_TYPE_KEY,
        norm_length_field: str = keys.NORM_LENGTH_KEY,
        irreps_in: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__(r_max, type_names, per_edge_type_cutoff, irreps_in)
        self.edge_type_field = edge_type_field
        self.norm_length_field = norm_length_field
        out = {norm_length_field: "0e"}
        if self.per_edge_type:
            out[edge_type_field] = None
        self._init_irreps(irreps_in=irreps_in, irreps_out=out)

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data = super().forward(data)
        norm_length = data.pop(keys.NORM_LENGTH_KEY).view(-1, 1)
        if self.per_edge_type:
            data.pop(keys.EDGE_TYPE_KEY)  # the workspace's flat (E,) form
            data = with_edge_type_(data, self.edge_type_field)
        data[self.norm_length_field] = norm_length
        return data


class BesselEdgeLengthEncoding(radial.BesselEdgeLengthEncoding):
    r"""Bessel basis ``w_n sinc(w_n x)`` times the envelope ``u(x)`` of the normalized lengths.

    ``sinc(t) = sin(pi t) / (pi t)``; ``w_n = n`` (trainable if ``trainable``). Reads
    ``norm_length_field`` (E, 1); writes ``edge_invariant_field`` (E, num_bessels) and
    ``edge_cutoff`` (E, 1) in the model dtype.

    Args:
        cutoff: envelope module of x, e.g. ``PolynomialCutoff(6)``.
        num_bessels: number of basis functions (default 8).
        trainable: learn the frequencies ``w_n`` (default ``False``).
        edge_invariant_field: where the basis is written.
        norm_length_field: where the normalized lengths are read.
        irreps_in: fields available before this module.
    """

    def __init__(
        self,
        cutoff: torch.nn.Module,
        num_bessels: int = 8,
        trainable: bool = False,
        edge_invariant_field: str = keys.EDGE_EMBEDDING_KEY,
        norm_length_field: str = keys.NORM_LENGTH_KEY,
        irreps_in: Optional[Mapping[str, Any]] = None,
    ):
        # the workspace's class reads and writes the standard fields; the renamed ones are
        # declared below and moved in forward
        super().__init__(
            r_max=_UNIT_PREFACTOR_R_MAX,
            num_bessels=num_bessels,
            trainable=trainable,
            cutoff=cutoff,
            irreps_in={keys.NORM_LENGTH_KEY: "0e"},
        )
        self.edge_invariant_field = edge_invariant_field
        self.norm_length_field = norm_length_field
        self._init_irreps(
            irreps_in=irreps_in,
            required_irreps_in=[norm_length_field],
            irreps_out={edge_invariant_field: f"{num_bessels}x0e", keys.EDGE_CUTOFF_KEY: "0e"},
        )

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        renamed_in = self.norm_length_field != keys.NORM_LENGTH_KEY
        if renamed_in:
            data[keys.NORM_LENGTH_KEY] = data[self.norm_length_field]
        data = super().forward(data)
        if renamed_in:
            data.pop(keys.NORM_LENGTH_KEY)
        if self.edge_invariant_field != keys.EDGE_EMBEDDING_KEY:
            data[self.edge_invariant_field] = data.pop(keys.EDGE_EMBEDDING_KEY)
        return data

    def extra_repr(self) -> str:
        return f"num_bessels={self.num_bessels}, trainable={self.trainable}"


class AddRadialCutoffToData(GraphModuleMixin, torch.nn.Module):
    """Write ``edge_cutoff`` (E, 1) = ``cutoff(x)`` in the model dtype, unless already present.

    Args:
        cutoff: envelope module of the normalized lengths x, e.g. ``PolynomialCutoff(6)``.
        norm_length_field: where x is read.
        irreps_in: fields available before this module (must include ``norm_length_field``).
    """

    def __init__(
        self,
        cutoff: torch.nn.Module,
        norm_length_field: str = keys.NORM_LENGTH_KEY,
        irreps_in: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__()
        self.cutoff = cutoff
        self.norm_length_field = norm_length_field
        self._init_irreps(
            irreps_in=irreps_in, required_irreps_in=[norm_length_field], irreps_out={keys.EDGE_CUTOFF_KEY: "0e"}
        )
        # zero-size buffer that follows .to(dtype): the output dtype
        self.register_buffer("_dtype_ref", torch.empty(0), persistent=False)

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        if keys.EDGE_CUTOFF_KEY not in data:
            x = data[self.norm_length_field].view(-1, 1)
            data[keys.EDGE_CUTOFF_KEY] = self.cutoff(x).to(self._dtype_ref.dtype)
        return data
