"""Spherical harmonics of the edge vectors: the angular edge attributes."""

from typing import Any, Mapping, Optional, Union

import torch
from e3nn import o3

from nequip.data import AtomicDataDict, keys

from .graph_module import GraphModuleMixin

_NORMALIZATIONS = ("component", "norm", "integral")


class SphericalHarmonicEdgeAttrs(GraphModuleMixin, torch.nn.Module):
    """Spherical harmonics ``Y(r_ij / |r_ij|)`` of every edge (upstream ``SphericalHarmonicEdgeAttrs``).

    Edge vectors are computed (if absent) in the dtype of the positions (float64 data);
    the harmonics are cast to the model dtype.

    Args:
        irreps_edge_sh: an int ``l_max`` (gives ``o3.Irreps.spherical_harmonics(l_max)``,
            ``1x0e+1x1o+1x2e+...``) or explicit irreps.
        edge_sh_normalization: ``"component"`` (default: each component has mean square 1
            over the sphere), ``"norm"`` or ``"integral"``, as in ``e3nn.o3.spherical_harmonics``.
        edge_sh_normalize: normalize the edge vectors first (default ``True``).
        out_field: field to write, ``edge_attrs`` by default, shape (E, irreps.dim).
        irreps_in: fields available before this module.
    """

    def __init__(
        self,
        irreps_edge_sh: Union[int, str, o3.Irreps],
        edge_sh_normalization: str = "component",
        edge_sh_normalize: bool = True,
        out_field: str = keys.EDGE_ATTRS_KEY,
        irreps_in: Optional[Mapping[str, Any]] = None,
    ):
        super().__init__()
        if isinstance(irreps_edge_sh, int):
            if irreps_edge_sh < 0:
                raise ValueError(f"irreps_edge_sh as l_max must be >= 0, got {irreps_edge_sh}")
            irreps_edge_sh = o3.Irreps.spherical_harmonics(irreps_edge_sh)
        self.irreps_edge_sh = o3.Irreps(irreps_edge_sh)
        if edge_sh_normalization not in _NORMALIZATIONS:
            raise ValueError(
                f"edge_sh_normalization={edge_sh_normalization!r} is not allowed; allowed are {list(_NORMALIZATIONS)}"
            )
        self.out_field = out_field
        self.sh = o3.SphericalHarmonics(self.irreps_edge_sh, edge_sh_normalize, edge_sh_normalization)
        self._init_irreps(irreps_in=irreps_in, irreps_out={out_field: self.irreps_edge_sh})
        self.register_buffer("_dtype_ref", torch.empty(0), persistent=False)

    def forward(self, data: AtomicDataDict.Type) -> AtomicDataDict.Type:
        data = AtomicDataDict.with_edge_vectors_(data, with_lengths=False)
        data[self.out_field] = self.sh(data[keys.EDGE_VECTORS_KEY]).to(self._dtype_ref.dtype)
        return data
