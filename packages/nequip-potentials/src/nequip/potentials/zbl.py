"""Ziegler-Biersack-Littmark (ZBL) screened nuclear repulsion, as a pure tensor kernel.

The functional form and every constant are those of LAMMPS ``pair_style zbl``
(https://docs.lammps.org/pair_zbl.html), without its switching function:

.. math::

    E(r) = \\frac{k\\, Z_i Z_j}{r}\\, \\phi\\!\\left(\\frac{r}{a}\\right), \\qquad
    a = \\frac{0.46850\\ \\text{Å}}{Z_i^{0.23} + Z_j^{0.23}}, \\qquad
    \\phi(x) = \\sum_{m=1}^{4} c_m\\, e^{-d_m x},

with :math:`(c_m, d_m)` = (0.18175, 3.19980), (0.50986, 0.94229), (0.28022, 0.40290),
(0.02817, 0.20162) and :math:`k = e^2 / (4 \\pi \\varepsilon_0)` in the LAMMPS unit style:
14.399645 eV·Å (``metal``) or 332.06371 kcal/mol·Å (``real``). Distances are in Å in both.
"""

from typing import Dict, Final, Tuple

import torch

#: Screening-length numerator a_0 of the universal ZBL screening length, Å.
ZBL_SCREENING_LENGTH: Final[float] = 0.46850
#: Exponent of Z in the screening length a = a_0 / (Z_i^p + Z_j^p).
ZBL_Z_EXPONENT: Final[float] = 0.23
#: (c_m, d_m) of the universal screening function phi(x) = sum_m c_m exp(-d_m x).
ZBL_SCREENING_COEFFICIENTS: Final[Tuple[Tuple[float, float], ...]] = (
    (0.18175, 3.19980),
    (0.50986, 0.94229),
    (0.28022, 0.40290),
    (0.02817, 0.20162),
)
#: Coulomb constant e^2 / (4 pi eps_0) per LAMMPS unit style (LAMMPS ``qqr2e``), energy·Å.
COULOMB_CONSTANT: Final[Dict[str, float]] = {
    "metal": 14.399645,  # eV·Å
    "real": 332.06371,  # kcal/mol·Å
}


def coulomb_constant(units: str) -> float:
    """The Coulomb constant k = e^2 / (4 pi eps_0) in a LAMMPS unit style.

    Args:
        units: LAMMPS unit style, ``"metal"`` (eV, Å) or ``"real"`` (kcal/mol, Å).

    Returns:
        k in energy·Å of that unit style.

    Raises:
        ValueError: if ``units`` is not one of the supported unit styles.
    """
    if units not in COULOMB_CONSTANT:
        raise ValueError(
            f"units: got {units!r}; the ZBL potential supports the LAMMPS unit styles {sorted(COULOMB_CONSTANT)}"
        )
    return COULOMB_CONSTANT[units]


def zbl_screening(x: torch.Tensor) -> torch.Tensor:
    """The universal ZBL screening function phi(x) = sum_m c_m exp(-d_m x).

    Args:
        x: reduced distance r / a, any shape, dimensionless.

    Returns:
        phi(x), same shape and dtype as ``x``; phi(0) = 1.
    """
    phi = torch.zeros_like(x)
    for c, d in ZBL_SCREENING_COEFFICIENTS:
        phi = phi + c * torch.exp(-d * x)
    return phi


def zbl_pair_energy(
    r: torch.Tensor,
    z_i: torch.Tensor,
    z_j: torch.Tensor,
    units: str = "metal",
) -> torch.Tensor:
    """Bare (unsmoothed) ZBL energy of a pair of nuclei, as LAMMPS ``pair_style zbl``.

    Differentiable in ``r``; forces follow by autograd.

    Args:
        r: pair distances, shape (E,) or any shape broadcastable with ``z_i`` and ``z_j``,
            Å, > 0.
        z_i: atomic numbers of the first atom of each pair (integer or float tensor),
            broadcastable with ``r``.
        z_j: atomic numbers of the second atom, broadcastable with ``r``.
        units: LAMMPS unit style, ``"metal"`` (energies in eV) or ``"real"`` (kcal/mol).

    Returns:
        Pair energies, the broadcast shape of the inputs, dtype of ``r``, in the energy
        unit of ``units``. Symmetric in ``z_i`` and ``z_j``.

    Raises:
        ValueError: if ``units`` is not a supported unit style.

    Example:
        >>> import torch
        >>> r = torch.tensor([1.0], dtype=torch.float64)
        >>> z = torch.tensor([1.0], dtype=torch.float64)
        >>> round(zbl_pair_energy(r, z, z).item(), 6)  # H-H at 1 Å, eV
        1.025575
    """
    k = coulomb_constant(units)
    z_i = z_i.to(r.dtype)
    z_j = z_j.to(r.dtype)
    screening_length = ZBL_SCREENING_LENGTH / (torch.pow(z_i, ZBL_Z_EXPONENT) + torch.pow(z_j, ZBL_Z_EXPONENT))
    return (k * z_i * z_j / r) * zbl_screening(r / screening_length)
