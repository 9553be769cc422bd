"""Per-layer statistics of real weights: sigma_w^2 and sigma_b^2 with standard errors, the weight ensemble.

For a layer with weight array W (a conv kernel is read as its (C_out, C_in k1 k2 ...) matrix, the
fans of docs/conventions.md §1), n = fan_out fan_in entries, m_k = mean(W_ij^k):

- **sigma_w^2 = fan_in m_2**, the mean-field scale fan_in Var(W_ij) of a zero-mean ensemble.  If the
  entries are iid, Var(m_2) = (mu_4 - sigma^4) / n exactly (mu_4 = E W^4, sigma^2 = E W^2), so

      SE(sigma_w^2) = fan_in sqrt((m_4 - m_2^2) / n)

  with the sample moments plugged in: sigma_w^2 sqrt(2/n) for Gaussian entries (kurtosis 3),
  sigma_w^2 sqrt(0.8/n) for uniform ones (kurtosis 9/5).  With fewer than 8 entries the plug-in
  fourth moment is too noisy and the Gaussian value sqrt(2/n) is used.  (Semi-)orthogonal layers
  have SE 0: every singular value is the same, so |W|_F^2, hence sigma_w^2, is fixed by the
  construction, not sampled.
- **sigma_b^2 = mean(b_i^2)** with SE sqrt((mean b^4 - mean(b^2)^2) / n_b), the same estimator;
  0 with SE 0 for a layer without biases.
- **The ensemble**, by tests with stated thresholds (each a many-standard-deviation margin, so an iid
  layer is misread with negligible probability; layers smaller than about 8 x 8 cannot be told apart):

  1. ``orthogonal`` / ``sparse-orthogonal``: the orthogonality defect max|G - g I| / g of the smaller
     Gram matrix G (W W^T or W^T W, g = trace(G) / dim) is at most max(1e-8, 1000 eps) of the array's
     dtype (1e-8 for float64, 1.2e-4 for float32: the rounding of an orthogonal matrix stored in
     that precision), min(fan_out, fan_in) >= 2 (one row is trivially orthogonal), and the density
     of non-zeros is >= 0.99 (orthogonal) or below (sparse, as EOI).
  2. ``iid-gaussian`` / ``iid``: the mean is consistent with 0 (|mean| <= 6 sqrt(m_2 / n)) and the
     Gram matrix has the second spectral moment of iid entries.  For iid entries of any law,
     E tr((W W^T)^2) = n (mu_4 + (fan_out + fan_in - 2) sigma^4) exactly, so
     T = tr(G^2) / (n m_2^2) has mean kappa + fan_out + fan_in - 2 (kappa = m_4 / m_2^2); the layer is iid
     when |T / E[T] - 1| <= 6 / sqrt(n).  (Over 300 draws per shape from 16 x 16 to 256 x 256 and
     10 x 784, Gaussian and uniform, the standard deviation of T / E[T] - 1 was at most 1.04 / sqrt(n):
     the threshold is about 6 of them.)  Entries whose kurtosis is within 6 sqrt(24 / n) of 3 (6
     standard errors of the sample kurtosis of Gaussian entries) are ``iid-gaussian``; others (uniform:
     1.8, sparse masks: large) are ``iid``: free probability treats both alike at infinite width.
  3. ``structured``: anything else (shared or repeated blocks as looks-linear, identity-like IDInit,
     low rank, a non-zero mean, rows of very different norms).

Layers are numbered from 1 (docs/conventions.md §1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["LayerStatistics", "layer_statistics", "pooled", "homogeneity_pvalue", "orthogonality_error",
           "orthogonality_tolerance", "ENSEMBLES"]

#: The ensembles a layer is classified into.
ENSEMBLES = ("orthogonal", "sparse-orthogonal", "iid-gaussian", "iid", "structured")
#: Standard deviations of margin in every test of the classification.
_Z = 6.0
#: Density below which an orthogonal layer is "sparse-orthogonal".
SPARSE_DENSITY = 0.99
#: Fewer entries than this: the Gaussian fourth moment replaces the plug-in one in the standard error.
_MIN_ENTRIES = 8


@dataclass(frozen=True)
class LayerStatistics:
    """One layer measured (see the module docstring for every formula and threshold).

    index : layer number l, from 1.  name : where it came from (a module path, "W3", ...).
    shape, dtype : the array as given; fan_in, fan_out : its fans; n_weights : fan_in fan_out.
    sigma_w2, sigma_w2_se : fan_in mean(W^2) and its standard error.
    mean_z : mean(W) / sqrt(m_2 / n), the mean in standard errors.
    kurtosis : m_4 / m_2^2 (Gaussian 3, uniform 1.8).
    gram_deviation, gram_threshold : T / E[T] - 1 of the Gram test and its threshold 6 / sqrt(n).
    orthogonality_error, orthogonality_tolerance : max|G - g I| / g and the dtype's threshold.
    density : fraction of non-zero entries.
    ensemble : one of :data:`ENSEMBLES`.
    n_biases : number of biases (0: the layer has none); sigma_b2, sigma_b2_se : mean(b^2), its SE.
    """

    index: int
    name: str
    shape: tuple
    dtype: str
    fan_in: int
    fan_out: int
    n_weights: int
    sigma_w2: float
    sigma_w2_se: float
    mean_z: float
    kurtosis: float
    gram_deviation: float
    gram_threshold: float
    orthogonality_error: float
    orthogonality_tolerance: float
    density: float
    ensemble: str
    n_biases: int
    sigma_b2: float
    sigma_b2_se: float


def orthogonality_tolerance(dtype) -> float:
    """max(1e-8, 1000 eps(dtype)): below it a Gram matrix counts as a multiple of the identity."""
    dtype = np.dtype(dtype)
    eps = float(np.finfo(dtype).eps) if np.issubdtype(dtype, np.floating) else float(np.finfo(float).eps)
    return max(1e-8, 1000.0 * eps)


def _gram(m: np.ndarray) -> np.ndarray:
    return m @ m.T if m.shape[0] <= m.shape[1] else m.T @ m


def orthogonality_error(w: np.ndarray, gram: np.ndarray | None = None) -> float:
    """max|G - g I| / g, G the smaller Gram matrix of ``w`` (as a (fan_out, rest) matrix), g = trace(G)/dim."""
    gram = _gram(w.reshape(w.shape[0], -1)) if gram is None else gram
    g = np.trace(gram) / gram.shape[0]
    if g == 0:
        return math.inf
    return float(np.max(np.abs(gram - g * np.eye(gram.shape[0]))) / g)


def _second_moment(values: np.ndarray) -> tuple[float, float, float]:
    """(m_2, SE of m_2 for iid entries, m_4)."""
    n = values.size
    sq = values * values
    m2 = float(sq.mean())
    m4 = float((sq * sq).mean())
    if n < _MIN_ENTRIES:
        return m2, m2 * math.sqrt(2.0 / n), m4
    return m2, math.sqrt(max(m4 - m2 * m2, 0.0) / n), m4


def _ensemble(m, gram, m2, m4, mean_z, density, tol) -> tuple[str, float, float, float, float]:
    """(ensemble, orthogonality error, kurtosis, Gram deviation, Gram threshold) of a (fan_out, fan_in) matrix."""
    n_out, n_in = m.shape
    n = m.size
    defect = orthogonality_error(m, gram)
    kurtosis = m4 / (m2 * m2) if m2 > 0 else math.nan
    threshold = _Z / math.sqrt(n)
    if m2 > 0:
        t = float(np.sum(gram * gram)) / (n * m2 * m2)
        deviation = t / (kurtosis + n_out + n_in - 2.0) - 1.0
    else:
        deviation = math.nan
    if min(n_out, n_in) >= 2 and defect <= tol:
        kind = "orthogonal" if density >= SPARSE_DENSITY else "sparse-orthogonal"
    elif abs(mean_z) <= _Z and abs(deviation) <= threshold:
        kind = "iid-gaussian" if abs(kurtosis - 3.0) <= _Z * math.sqrt(24.0 / n) else "iid"
    else:
        kind = "structured"
    return kind, defect, kurtosis, deviation, threshold


def layer_statistics(index: int, name: str, w: np.ndarray, dtype, b: np.ndarray | None) -> LayerStatistics:
    """The statistics of layer ``index`` (weights ``w`` as float64, original ``dtype``, biases ``b`` or None)."""
    m = w.reshape(w.shape[0], -1)
    n_out, fan_in = m.shape
    n = m.size
    m2, m2_se, m4 = _second_moment(m)
    mean_z = float(m.mean()) / math.sqrt(m2 / n) if m2 > 0 else 0.0
    density = float(np.count_nonzero(m)) / n
    gram = _gram(m)
    kind, defect, kurtosis, deviation, threshold = _ensemble(
        m, gram, m2, m4, mean_z, density, orthogonality_tolerance(dtype)
    )
    exact = kind in ("orthogonal", "sparse-orthogonal")
    if b is None:
        n_b, sb2, sb2_se = 0, 0.0, 0.0
    else:
        n_b = b.size
        sb2, sb2_se, _ = _second_moment(b)
    return LayerStatistics(
        index=index, name=name, shape=tuple(int(k) for k in w.shape), dtype=str(np.dtype(dtype)),
        fan_in=int(fan_in), fan_out=int(n_out) * int(np.prod(w.shape[2:], dtype=int)), n_weights=int(n),
        sigma_w2=fan_in * m2, sigma_w2_se=0.0 if exact else fan_in * m2_se, mean_z=mean_z, kurtosis=kurtosis,
        gram_deviation=deviation, gram_threshold=threshold, orthogonality_error=defect,
        orthogonality_tolerance=orthogonality_tolerance(dtype), density=density, ensemble=kind,
        n_biases=int(n_b), sigma_b2=sb2, sigma_b2_se=sb2_se,
    )


def pooled(layers) -> tuple[float, float, float, float]:
    """(sigma_w^2, its SE, sigma_b^2, its SE) averaged with equal weights over ``layers``.

    Each layer contributes one factor to the Jacobian product, so the equal-weight mean is the scale of
    the typical layer; for independent layers SE(mean) = sqrt(sum SE_l^2) / K.  Layers without biases
    count as sigma_b^2 = 0 (exactly).
    """
    k = len(layers)
    sw2 = sum(s.sigma_w2 for s in layers) / k
    sb2 = sum(s.sigma_b2 for s in layers) / k
    sw2_se = math.sqrt(sum(s.sigma_w2_se**2 for s in layers)) / k
    sb2_se = math.sqrt(sum(s.sigma_b2_se**2 for s in layers)) / k
    return sw2, sw2_se, sb2, sb2_se


def homogeneity_pvalue(layers) -> float:
    """p-value of "every layer has the same sigma_w^2": chi^2 = sum ((sigma_w2_l - mean) / SE_l)^2 on K - 1
    degrees of freedom over the layers with SE > 0 (NaN with fewer than two of them)."""
    values = [(s.sigma_w2, s.sigma_w2_se) for s in layers if s.sigma_w2_se > 0]
    if len(values) < 2:
        return math.nan
    x = np.array([v for v, _ in values])
    se = np.array([e for _, e in values])
    weights = 1.0 / se**2
    centre = float(np.sum(weights * x) / np.sum(weights))
    chi2 = float(np.sum(((x - centre) / se) ** 2))
    return float(stats.chi2.sf(chi2, len(values) - 1))
