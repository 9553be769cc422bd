"""Jacobian spectra by free probability, and the dynamical-isometry verdict.

The eigenvalues lambda of J J^T, J = D^L W^L ... D^1 W^1 the input-output Jacobian of a deep random
network, have at infinite width a law fixed by S-transforms (Pennington, Schoenholz & Ganguli 2017,
2018): S_{JJ^T} = prod_l S_{D_l^2} S_{W_l^T W_l}.  Normalizations in docs/conventions.md.

- :mod:`~meanfield.spectra.derivative_law`: the law of d = phi'(sqrt(q) g)^2 itself (atoms, cdf,
  density, support), exact for one orthogonal layer.
- :mod:`~meanfield.spectra.freeprob`: laws of D^2 and their S-transforms, weight ensembles, the
  spectral moments and the solvers of the free-multiplicative equation.
- :mod:`~meanfield.spectra.spectrum`: :class:`JacobianSpectrum` (pdf, cdf, atoms, support,
  moments) from :func:`jacobian_spectrum`.
- :mod:`~meanfield.spectra.isometry`: :func:`isometry`, the verdict with the numbers behind it.
"""
from . import freeprob
from .derivative_law import DerivativeLaw, derivative_law
from .isometry import Criterion, IsometryReport, MonteCarloCheck, isometry
from .spectrum import JacobianSpectrum, jacobian_spectrum

__all__ = [
    "freeprob",
    "DerivativeLaw", "derivative_law",
    "JacobianSpectrum", "jacobian_spectrum",
    "IsometryReport", "MonteCarloCheck", "Criterion", "isometry",
]
