"""Smooth polynomial envelope that takes a pair term to zero at the cutoff.

The envelope of Klicpera, Groß and Günnemann (DimeNet, ICLR 2020), as used by NequIP's
``PolynomialCutoff``, for the reduced distance x = r / r_max:

.. math::

    u(x) = 1 - \\frac{(p+1)(p+2)}{2} x^p + p(p+2)\\, x^{p+1} - \\frac{p(p+1)}{2} x^{p+2}
    \\quad (x < 1), \\qquad u(x) = 0 \\quad (x \\ge 1),

so u(0) = 1 and u, u' and u'' vanish at x = 1: a term multiplied by it, its forces and
their derivatives go continuously to zero at r_max.
"""

import torch


def polynomial_envelope(x: torch.Tensor, p: float = 6.0) -> torch.Tensor:
    """Polynomial envelope u(x) of the reduced distance x = r / r_max.

    Args:
        x: reduced distances r / r_max, any shape, >= 0, dimensionless.
        p: polynomial order, > 0 (NequIP's default is 6). Not checked here: graph
            modules check it when they are built.

    Returns:
        u(x), same shape and dtype as ``x``; 1 at x = 0 and exactly 0 for x >= 1.

    Example:
        >>> import torch
        >>> polynomial_envelope(torch.tensor([0.0, 0.5, 1.0, 1.5], dtype=torch.float64)).tolist()
        [1.0, 0.85546875, 0.0, 0.0]
    """
    x_p = torch.pow(x, p)
    u = (
        1.0
        - 0.5 * (p + 1.0) * (p + 2.0) * x_p
        + p * (p + 2.0) * x_p * x
        - 0.5 * p * (p + 1.0) * x_p * x * x
    )
    return torch.where(x < 1.0, u, torch.zeros_like(u))
