r"""Radial edge embedding: edge-length normalization, polynomial cutoff and Bessel basis.

With x = r / r_c the edge length over its cutoff (``r_c = r_max``, or a per-edge-type
cutoff), the radial edge embedding written to ``edge_embedding`` is

.. math::

    e_n(r) = \frac{2}{r_{max}^2}\,\frac{\sin(\omega_n \pi x)}{x}\; u_p(x),
    \qquad \omega_n = n = 1 \dots N

which for ``r_c = r_max`` is the familiar ``(2 / r_max) sin(n pi r / r_max) / r`` Bessel
basis, multiplied by the polynomial envelope ``u_p`` (upstream NequIP's numbers: its
sinc-based basis times its ``2 pi / r_max^2`` factor). The frequencies ``omega_n`` are
optionally trainable.
"""

import math
from typing import Any, Dict, Mapping, Optional, Sequence, Union

import torch

from nequip.data import AtomicDataDict, keys

from .graph_module import GraphModuleMixin

PerEdgeTypeCutoff = Mapping[str, Union[float, Mapping[str, float]]]


class PolynomialCutoff(torch.nn.Module):
    r"""Polynomial envelope of DimeNet (Gasteiger et al. 2020), as a function of x = r / r_c.

    .. math::

        u_p(x) = 1 - \frac{(p+1)(p+2)}{2} x^p + p(p+2) x^{p+1} - \frac{p(p+1)}{2} x^{p+2}

    for x < 1 and 0 beyond; ``u_p(1) = u_p'(1) = u_p''(1) = 0``.

    Args:
        p: exponent (upstream's ``polynomial_cutoff_p``, default 6), at least 2.
    """

    def __init__(self, p: float = 6):
        super().__init__()
        if not p >= 2:
            raise ValueError(f"polynomial_cutoff_p (the cutoff exponent p) must be >= 2, got {p!r}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Envelope of normalized lengths ``x`` (any shape), same shape and dtype."""
        p = self.p
        out = (
            1.0
            - ((p + 1.0) * (p + 2.0) / 2.0) * torch.pow(x, p)
            + (p * (p + 2.0)) * torch.pow(x, p + 1.0)
            - (p * (p + 1.0) / 2.0) * torch.pow(x, p + 2.0)
        )
        return out * (x < 1.0)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def per_edge_type_cutoff_table(
    per_edge_type_cutoff: PerEdgeTypeCutoff, type_names: Sequence[str], r_max: float
) -> torch.Tensor:
    """Full (num_types, num_types) float64 table of cutoffs ``[center type, neighbor type]``.

    Args:
        per_edge_type_cutoff: ``{center: cutoff}`` (same cutoff for every neighbor type) or
            ``{center: {neighbor: cutoff}}``; missing entries default to ``r_max``.
        type_names: the model's atom type names.
        r_max: the global cutoff; every entry must be in ``(0, r_max]``.

    Raises:
        ValueError: for unknown type names or cutoffs outside ``(0, r_max]``.
    """
    names = list(type_names)
    unknown = [k for k in per_edge_type_cutoff if k not in names]
    table = torch.full((len(names), len(names)), float(r_max), dtype=torch.float64)
    for center, entry in per_edge_type_cutoff.items():
        if isinstance(entry, Mapping):
            unknown += [f"{center}->{k}" for k in entry if k not in names]
            for neighbor, value in entry.items():
                if neighbor in names and center in names:
                    table[names.index(center), names.index(neighbor)] = float(value)
        elif center in names:
            table[names.index(center), :] = float(entry)
    if unknown:
        raise ValueError(f"per_edge_type_cutoff names unknown types {unknown}; type_names are {names}")
    if not bool(((table > 0) & (table <= r_max)).all()):
        raise ValueError(f"per_edge_type_cutoff values must be in (0, r_max={r_max}], got {table.tolist()}")
    return table


def per_edge_type_cutoff_dict(table: torch.Tensor, type_names: Sequence[str]) -> Dict[str, Dict[str, float]]:
    """The full ``{center: {neighbor: cutoff}}`` dict of a (num_types, num_types) table."""
    return {a: {b: float(table[i, j]) for j, b in enumerate(type_names)} for i, a in enumerate(type_names)}


class EdgeLengthNormalizer(GraphModuleMixin, torch.nn.Module):
    """Write ``normed_edge_lengths`` ``x = |r_ij| / r_c`` (E,), float64, with r_c per edge type if given.

    Args:
        r_max: global cutoff radius (length unit of the data).
        type_names: atom type names (needed for ``per_edge_type_cutoff``).
        per_edge_type_cutoff: optional per-edge-type cutoffs, see
            :func:`per_edge_type_cutoff_table`. Then ``edge_type_flat`` = t_i * T + t_j is
            also written.
        irreps_in: fields available before this module.
    """

    def __init__(
        self,
        r_max: float,
        type_names: Sequence[str],
        per_edge_type_cutoff: Optional[PerEdgeTypeCutoff] = None,
        irreps_in: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__()
        if not float(r_max) > 0:
            raise ValueError(f"r_max must be positive, got {r_max!r}")
        self.r_max = float(r_max)
        self.type_names = list(type_names)
        self.num_types = len(self.type_names)
        self.per_edge_type = per_edge_type_cutoff is not None
        if self.per_edge_type:
            table = per_edge_type_cutoff_table(per_edge_type_cutoff, self.type_names, self.r_max)
            self.register_buffer("cutoff_table", table)
            self.register_buffer("_rmax_recip", table.reciprocal().view(-1), persistent=False)
        else:
            self.register_buffer("_rmax_recip", torch.tensor([1.0 / self.r_max], dtype=torch.float64), persistent=False)
        #: whether ``x`` is the same for both directions of every pair (no per-edge-type
        #: cutoffs, or a symmetric table)
        self.symmetric = not self.per_edge_type or bool(torch.equal(table, table.T))
        out = {keys.NORM_LENGTH_KEY: "0e"}
        if self.per_edge_type:
            out[keys.EDGE_TYPE_KEY] = None
        self._init_irreps(irreps_in=irreps_in, irreps_out=out)

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data = AtomicDataDict.with_edge_vectors_(data, with_lengths=True)
        r = data[keys.EDGE_LENGTH_KEY]
        recip = self._rmax_recip.to(r.dtype)
        if self.per_edge_type:
            types = data[keys.ATOM_TYPE_KEY].view(-1)
            edge_index = data[keys.EDGE_INDEX_KEY]
            edge_type = types[edge_index[0]] * self.num_types + types[edge_index[1]]
            data[keys.EDGE_TYPE_KEY] = edge_type
            recip = torch.index_select(recip, 0, edge_type)
        data[keys.NORM_LENGTH_KEY] = r * recip
        return data


class BesselEdgeLengthEncoding(GraphModuleMixin, torch.nn.Module):
    """Bessel basis times polynomial envelope of the normalized edge lengths (see module docstring).

    Reads ``normed_edge_lengths``; writes ``edge_embedding`` (E, num_bessels) and
    ``edge_cutoff`` (E, 1) in the model dtype. ``edge_embedding`` is the transpose of a
    contiguous (num_bessels, E) tensor: computed that way, compiled kernels vectorize the
    basis over the edges (a row of num_bessels values is shorter than a CPU vector).

    Args:
        r_max: global cutoff radius (sets the ``2 / r_max^2`` prefactor).
        num_bessels: number of basis functions N (default 8).
        trainable: learn the frequencies omega_n (initialized to n; default ``False``).
        cutoff: envelope module of x (default ``PolynomialCutoff(6)``).
        irreps_in: fields available before this module.

    Example:
        >>> enc = BesselEdgeLengthEncoding(r_max=4.0, num_bessels=2, irreps_in={keys.NORM_LENGTH_KEY: '0e'})
        >>> out = enc({keys.NORM_LENGTH_KEY: torch.tensor([0.25], dtype=torch.float64)})
        >>> out[keys.EDGE_EMBEDDING_KEY].shape
        torch.Size([1, 2])
    """

    def __init__(
        self,
        r_max: float,
        num_bessels: int = 8,
        trainable: bool = False,
        cutoff: Optional[torch.nn.Module] = None,
        irreps_in: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__()
        if not float(r_max) > 0:
            raise ValueError(f"r_max must be positive, got {r_max!r}")
        if not (isinstance(num_bessels, int) and num_bessels > 0):
            raise ValueError(f"num_bessels must be a positive integer, got {num_bessels!r}")
        self.r_max = float(r_max)
        self.num_bessels = num_bessels
        self.trainable = trainable
        self.cutoff = PolynomialCutoff(6) if cutoff is None else cutoff
        frequencies = torch.arange(1, num_bessels + 1, dtype=torch.float64)
        if trainable:
            self.bessel_weights = torch.nn.Parameter(frequencies)
        else:
            self.register_buffer("bessel_weights", frequencies)
        self._prefactor = 2.0 * math.pi / (self.r_max * self.r_max)
        self._init_irreps(
            irreps_in=irreps_in,
            required_irreps_in=[keys.NORM_LENGTH_KEY],
            irreps_out={keys.EDGE_EMBEDDING_KEY: f"{num_bessels}x0e", keys.EDGE_CUTOFF_KEY: "0e"},
        )
        self.register_buffer("_dtype_ref", torch.empty(0), persistent=False)

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        x = data[keys.NORM_LENGTH_KEY].view(1, -1)
        w = self.bessel_weights.to(x.dtype).view(-1, 1)
        # sin(w pi x) / x = pi w sinc(w x), finite at x = 0
        bessel = (self._prefactor * w) * torch.sinc(x * w)
        cutoff = self.cutoff(x)
        dtype = self._dtype_ref.dtype
        data[keys.EDGE_CUTOFF_KEY] = cutoff.to(dtype).view(-1, 1)
        data[keys.EDGE_EMBEDDING_KEY] = (bessel * cutoff).to(dtype).t()
        return data

    def extra_repr(self) -> str:
        return f"r_max={self.r_max}, num_bessels={self.num_bessels}, trainable={self.trainable}"
