"""Independent high-precision mean-field reference, written in pure mpmath.

Shares no code with the ``meanfield`` package (it never imports it); the tests compare the
package against the values computed here.  Conventions are those of DESIGN.md and
notes/meanfield.md: z, z1, z2 iid N(0, 1), u = sqrt(q) z, u1 = sqrt(q1) z1,
u2 = sqrt(q2) (c z1 + sqrt(1 - c^2) z2), weights of variance sigma_w^2 / fan-in.

How values are computed (``method="auto"`` picks the first route that applies; every other route
can be requested explicitly, which is what tests/meanfield/test_reference_selfcheck.py does):

* 1D expectations E[f(sqrt(q) z)]: closed forms (section 2 of the notes) evaluated in mpmath, else
  tanh-sinh quadrature (``mp.quad``) in the standardised variable z on [-15, 15] (the Gaussian tail
  beyond is < 1e-48), split at 0, at the kinks of phi (z = kink / sqrt(q)) and at phi's own scale
  (z = +-1, 4, 16 / sqrt(q)).  Working precision 30 digits.
* Bivariate expectations E[g(u1) g(u2)] (g = phi or phi'):
  "closed"  bivariate closed forms (linear, relu, leaky_relu, erf, sin);
  "inner"   one outer ``mp.quad`` over z1 of g(u1) E_z2[g(a + b z2)], with the closed-form inner
            conditional expectation, a = sqrt(q2) c z1, b = sqrt(q2 (1 - c^2)) (linear, relu, leaky_relu,
            erf, gelu, hardtanh, selu, elu, sin);
  "nested"  outer ``mp.quad`` over z1, inner ``mp.quad`` over z2, no closed forms at all, 20 digits
            (the only route for tanh, sigmoid, softplus, silu; slow, about a second per value);
  "gh"      Gauss-Hermite product rule (nodes computed here in mpmath), smooth phi and moderate q only.
  c = 0 factorises (E[g(u1)] E[g(u2)]), c = +-1 reduces to a 1D integral.
* Fixed point q*: a few plain iterations of the q-map from q0, then a sign-change bracket in the
  direction of motion and an Illinois (safeguarded secant) root solve at 30 digits.  The collapse
  q* = 0 (sigma_b^2 = 0, phi(0) = 0, ordered) is detected and returned as exactly 0.
* c*: 1 in the ordered phase (chi_1 <= 1); otherwise the root in [0, 1) of the c-map minus c,
  bracketed by c = 0 (where the map is >= 0, since sigma_b^2 >= 0) and c = 1 - 2^-k (the map is
  convex on [0, 1] for q1 = q2, so it has exactly one root there besides c = 1).
* Edge of chaos: roots of S(q) = q - V(q)/D(q) = sigma_b^2 on a log grid 1e-4..1e3 (8 points per
  decade), refined by Illinois; sigma_w^2 = 1/D(q).  For sigma_b^2 = 0 and phi(0) = 0 with
  S > 0 at small q, the q* -> 0 limit (1/phi'(0)^2, one-sided average at a kink) is reported as q = 0.

All public functions accept Python floats (converted exactly), strings (decimal) or mpf numbers and
return mpf numbers of this module's private mpmath context ``mp`` (30 digits); the global mpmath
context is left untouched.  Results are cached (functools.lru_cache).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from mpmath.ctx_mp import MPContext

mp = MPContext()
DPS = 30
NESTED_DPS = 20
mp.dps = DPS

ZMAX = 15           # |z| range of 1D integrals (tail < 1e-48)
ZMAX_NESTED = 11    # |z| range of the nested 2D route at 20 digits (tail < 1e-26)

SELU_LAMBDA = mp.mpf("1.0507009873554804934193349852946")
SELU_ALPHA = mp.mpf("1.6732632423543772848170429916717")

NAMES = ("linear", "relu", "leaky_relu", "tanh", "hardtanh", "erf", "sigmoid", "softplus",
         "selu", "elu", "gelu", "silu", "sin")
KINKED = ("relu", "leaky_relu", "hardtanh", "selu", "elu")
NESTED_ONLY = ("tanh", "sigmoid", "softplus", "silu")
ODD = ("linear", "tanh", "hardtanh", "erf", "sin")


def _m(x):
    """Exact conversion to an mpf of the private context (floats keep their binary value)."""
    if isinstance(x, str):
        return mp.mpf(x)
    return mp.mpf(x)


def _npdf(x):
    return mp.exp(-x * x / 2) / mp.sqrt(2 * mp.pi)


def _ncdf(x):
    return mp.erfc(-x / mp.sqrt(2)) / 2


def _sigm(x):
    return 1 / (1 + mp.exp(-x))


# --------------------------------------------------------------------------------------------
# activations


@dataclass(frozen=True)
class Act:
    name: str
    slope: object = None      # leaky_relu only (mpf)

    # --- phi, phi', phi'' ---------------------------------------------------------------
    def phi(self, x):
        n = self.name
        if n == "linear":
            return x
        if n == "relu":
            return x if x > 0 else mp.zero
        if n == "leaky_relu":
            return x if x > 0 else self.slope * x
        if n == "tanh":
            return mp.tanh(x)
        if n == "hardtanh":
            return mp.one if x >= 1 else (-mp.one if x <= -1 else x)
        if n == "erf":
            return mp.erf(x)
        if n == "sigmoid":
            return _sigm(x)
        if n == "softplus":
            return mp.log1p(mp.exp(x)) if x < 30 else x + mp.log1p(mp.exp(-x))
        if n == "selu":
            return SELU_LAMBDA * x if x > 0 else SELU_LAMBDA * SELU_ALPHA * mp.expm1(x)
        if n == "elu":
            return x if x > 0 else mp.expm1(x)
        if n == "gelu":
            return x * _ncdf(x)
        if n == "silu":
            return x * _sigm(x)
        if n == "sin":
            return mp.sin(x)
        raise ValueError(n)

    def dphi(self, x):
        n = self.name
        if n == "linear":
            return mp.one
        if n == "relu":
            return mp.one if x > 0 else mp.zero
        if n == "leaky_relu":
            return mp.one if x > 0 else self.slope
        if n == "tanh":
            return mp.sech(x) ** 2
        if n == "hardtanh":
            return mp.one if -1 < x < 1 else mp.zero
        if n == "erf":
            return 2 / mp.sqrt(mp.pi) * mp.exp(-x * x)
        if n in ("sigmoid", "softplus"):
            s = _sigm(x)
            return s * (1 - s) if n == "sigmoid" else s
        if n == "selu":
            return SELU_LAMBDA if x > 0 else SELU_LAMBDA * SELU_ALPHA * mp.exp(x)
        if n == "elu":
            return mp.one if x > 0 else mp.exp(x)
        if n == "gelu":
            return _ncdf(x) + x * _npdf(x)
        if n == "silu":
            s = _sigm(x)
            return s + x * s * (1 - s)
        if n == "sin":
            return mp.cos(x)
        raise ValueError(n)

    def d2phi(self, x):
        """phi'' (smooth activations only; kinked ones have delta parts)."""
        n = self.name
        if n == "linear":
            return mp.zero
        if n == "tanh":
            return -2 * mp.tanh(x) * mp.sech(x) ** 2
        if n == "erf":
            return -4 * x / mp.sqrt(mp.pi) * mp.exp(-x * x)
        if n in ("sigmoid", "softplus"):
            s = _sigm(x)
            return s * (1 - s) * (1 - 2 * s) if n == "sigmoid" else s * (1 - s)
        if n == "gelu":
            return (2 - x * x) * _npdf(x)
        if n == "silu":
            s = _sigm(x)
            return s * (1 - s) * (2 + x * (1 - 2 * s))
        if n == "sin":
            return -mp.sin(x)
        raise ValueError(f"phi'' of {n} has delta parts; use the (z^2-1) route")

    # --- structure ------------------------------------------------------------------------
    @property
    def kinks(self):
        if self.name in ("relu", "leaky_relu", "selu", "elu"):
            return (mp.zero,)
        if self.name == "hardtanh":
            return (-mp.one, mp.one)
        return ()

    @property
    def smooth(self):
        return not self.kinks

    @property
    def odd(self):
        return self.name in ODD

    @property
    def phi0(self):
        return self.phi(mp.zero)

    @property
    def dphi0_sq(self):
        """phi'(0)^2, the average of the one-sided values at a kink (the q -> 0 limit of D)."""
        eps = mp.mpf(10) ** (-DPS - 10)
        return (self.dphi(eps) ** 2 + self.dphi(-eps) ** 2) / 2 if self.kinks else self.dphi(mp.zero) ** 2

    def breaks(self, lo, hi):
        """Break points x in (lo, hi): kinks, phi's own scale and, for sin, every multiple of pi."""
        pts = set(x for x in self.scale_points + self.kinks if lo < x < hi)
        if self.name == "sin":
            k0, k1 = int(mp.ceil(lo / mp.pi)), int(mp.floor(hi / mp.pi))
            if k1 - k0 > 20000:
                raise ValueError("too many oscillations")
            pts.update(j * mp.pi for j in range(k0, k1 + 1) if lo < j * mp.pi < hi)
        return sorted(pts)

    def xpoints(self, q, zmax=ZMAX):
        """Break points in x for E[f(sqrt(q) z)], |z| < zmax."""
        r = zmax * mp.sqrt(q)
        return tuple(self.breaks(-r, r))

    @property
    def scale_points(self):
        """Points in x where phi changes character (used as break points)."""
        if self.name in ("linear", "relu", "leaky_relu"):
            return (mp.zero,)
        if self.name == "hardtanh":
            return (-mp.one, mp.zero, mp.one)
        pts = [mp.zero]
        for s in (1, 4, 16):
            pts += [mp.mpf(s), -mp.mpf(s)]
        return tuple(sorted(pts))


def act(name, **params) -> Act:
    """The activation ``name`` (one of NAMES); ``slope`` for leaky_relu (default 0.01)."""
    if isinstance(name, Act):
        if params:
            raise ValueError("parameters given with an Act")
        return name
    if name not in NAMES:
        raise ValueError(f"unknown activation {name!r}")
    if name == "leaky_relu":
        return Act(name, _m(params.pop("slope", 0.01)))
    if params:
        raise ValueError(f"{name} takes no parameters, got {params}")
    return Act(name)


# --------------------------------------------------------------------------------------------
# 1D Gaussian expectations


def _zpoints(xpoints, scale, zmax):
    """Break points in z for features at x in xpoints when x = scale * z."""
    pts = {mp.mpf(-zmax), mp.zero, mp.mpf(zmax)}
    if scale > 0:
        for x in xpoints:
            z = x / scale
            if abs(z) < zmax:
                pts.add(z)
    return sorted(pts)


def quad1(f, q, xpoints, error=False):
    """E[f(sqrt(q) z)] by tanh-sinh quadrature in z, split at z = x/sqrt(q), x in xpoints."""
    sq = mp.sqrt(q)
    norm = 1 / mp.sqrt(2 * mp.pi)
    pts = _zpoints(xpoints, sq, ZMAX)
    val, err = mp.quad(lambda z: f(sq * z) * mp.exp(-z * z / 2), pts, error=True)
    return (val * norm, err * norm) if error else val * norm


def _closed_V(a, q):
    n = a.name
    if n == "linear":
        return q
    if n == "relu":
        return q / 2
    if n == "leaky_relu":
        return (1 + a.slope ** 2) * q / 2
    if n == "erf":
        return 2 / mp.pi * mp.asin(2 * q / (1 + 2 * q))
    if n == "sin":
        return -mp.expm1(-2 * q) / 2
    if n == "gelu":
        return (q / 4 + q * mp.asin(q / (1 + q)) / (2 * mp.pi)
                + q ** 2 / (mp.pi * (1 + q) * mp.sqrt(1 + 2 * q)))
    if n == "hardtanh":
        t = 1 / mp.sqrt(q)
        return q * ((2 * _ncdf(t) - 1) - 2 * t * _npdf(t)) + 2 * (1 - _ncdf(t))
    if n in ("selu", "elu"):
        lam, al = (SELU_LAMBDA, SELU_ALPHA) if n == "selu" else (mp.one, mp.one)
        sq = mp.sqrt(q)
        return lam ** 2 * (q / 2 + al ** 2 * (mp.exp(2 * q) * _ncdf(-2 * sq)
                                              - 2 * mp.exp(q / 2) * _ncdf(-sq) + mp.mpf(1) / 2))
    return None


def _closed_D(a, q):
    n = a.name
    if n == "linear":
        return mp.one
    if n == "relu":
        return mp.one / 2
    if n == "leaky_relu":
        return (1 + a.slope ** 2) / 2
    if n == "erf":
        return 4 / mp.pi / mp.sqrt(1 + 4 * q)
    if n == "sin":
        return (1 + mp.exp(-2 * q)) / 2
    if n == "gelu":
        return (mp.mpf(1) / 4 + mp.asin(q / (1 + q)) / (2 * mp.pi)
                + q / (mp.pi * (1 + q) * mp.sqrt(1 + 2 * q))
                + q / (2 * mp.pi * (1 + 2 * q) ** mp.mpf(1.5)))
    if n == "hardtanh":
        return mp.erf(1 / mp.sqrt(2 * q))
    if n in ("selu", "elu"):
        lam, al = (SELU_LAMBDA, SELU_ALPHA) if n == "selu" else (mp.one, mp.one)
        return lam ** 2 * (mp.mpf(1) / 2 + al ** 2 * mp.exp(2 * q) * _ncdf(-2 * mp.sqrt(q)))
    return None


def _closed_M(a, q):
    n = a.name
    if a.odd:
        return mp.zero
    if n == "relu":
        return mp.sqrt(q / (2 * mp.pi))
    if n == "leaky_relu":
        return (1 - a.slope) * mp.sqrt(q / (2 * mp.pi))
    if n == "gelu":
        return q / mp.sqrt(2 * mp.pi * (1 + q))
    if n in ("selu", "elu"):
        lam, al = (SELU_LAMBDA, SELU_ALPHA) if n == "selu" else (mp.one, mp.one)
        sq = mp.sqrt(q)
        return lam * (sq / mp.sqrt(2 * mp.pi) + al * (mp.exp(q / 2) * _ncdf(-sq) - mp.mpf(1) / 2))
    return None


def _closed_Mp(a, q):
    n = a.name
    if n == "linear":
        return mp.one
    if n == "relu":
        return mp.one / 2
    if n == "leaky_relu":
        return (1 + a.slope) / 2
    if n == "erf":
        return 2 / mp.sqrt(mp.pi) / mp.sqrt(1 + 2 * q)
    if n == "sin":
        return mp.exp(-q / 2)
    if n == "hardtanh":
        return mp.erf(1 / mp.sqrt(2 * q))
    if n == "gelu":
        return mp.one / 2
    if n in ("selu", "elu"):
        lam, al = (SELU_LAMBDA, SELU_ALPHA) if n == "selu" else (mp.one, mp.one)
        return lam * (mp.mpf(1) / 2 + al * mp.exp(q / 2) * _ncdf(-mp.sqrt(q)))
    return None


def _one_d(kind, a, q, method):
    closed = {"V": _closed_V, "D": _closed_D, "M": _closed_M, "Mp": _closed_Mp}[kind]
    if method in ("auto", "closed"):
        with mp.workdps(DPS + 20):      # the SELU/ELU forms cancel O(1) terms at small q
            v = closed(a, q)
        if v is not None:
            return +v
        if method == "closed":
            raise ValueError(f"no closed form of {kind} for {a.name}")
    f = {"V": lambda x: a.phi(x) ** 2, "D": lambda x: a.dphi(x) ** 2,
         "M": a.phi, "Mp": a.dphi}[kind]
    return quad1(f, q, a.xpoints(q))


@functools.lru_cache(maxsize=None)
def _V(a, q, method):
    return _one_d("V", a, q, method)


@functools.lru_cache(maxsize=None)
def _D(a, q, method):
    return _one_d("D", a, q, method)


@functools.lru_cache(maxsize=None)
def _M(a, q, method):
    return _one_d("M", a, q, method)


@functools.lru_cache(maxsize=None)
def _Mp(a, q, method):
    return _one_d("Mp", a, q, method)


def V(name, q, method="auto"):
    """E[phi(sqrt(q) z)^2]."""
    return _V(act(name), _m(q), method)


def D(name, q, method="auto"):
    """E[phi'(sqrt(q) z)^2]."""
    return _D(act(name), _m(q), method)


def M(name, q, method="auto"):
    """E[phi(sqrt(q) z)]."""
    return _M(act(name), _m(q), method)


def Mp(name, q, method="auto"):
    """E[phi'(sqrt(q) z)]."""
    return _Mp(act(name), _m(q), method)


@functools.lru_cache(maxsize=None)
def _dVdq(a, q, method):
    if method in ("auto", "quad"):
        return quad1(lambda x: a.phi(x) ** 2 * (x * x / q - 1), q, a.xpoints(q)) / (2 * q)
    if method == "stein":      # E[phi'^2 + phi phi''], smooth phi only
        return quad1(lambda x: a.dphi(x) ** 2 + a.phi(x) * a.d2phi(x), q, a.xpoints(q))
    if method == "closed":     # derivative of the closed form of V (mpmath's high-precision diff)
        if _closed_V(a, q) is None:
            raise ValueError(f"no closed form of V for {a.name}")
        return mp.diff(lambda t: _closed_V(a, t), q)
    raise ValueError(method)


def dVdq(name, q, method="auto"):
    """V'(q) = E[phi(sqrt(q) z)^2 (z^2 - 1)] / (2q)  ("stein": E[phi'^2 + phi phi''])."""
    return _dVdq(act(name), _m(q), method)


# --------------------------------------------------------------------------------------------
# bivariate Gaussian expectations


def _closed_C(a, q1, q2, c, deriv):
    n = a.name
    r = mp.sqrt(q1 * q2)
    q12 = c * r
    if n == "linear":
        return mp.one if deriv else q12
    if n in ("relu", "leaky_relu"):
        s = mp.zero if n == "relu" else a.slope
        th = mp.acos(c)
        lin = (1 + s ** 2) / 2 - (1 - s) ** 2 * th / (2 * mp.pi)
        if deriv:
            return lin
        return (1 - s) ** 2 * r * mp.sqrt(1 - c * c) / (2 * mp.pi) + lin * q12
    if n == "erf":
        p = (1 + 2 * q1) * (1 + 2 * q2)
        if deriv:
            return 4 / mp.pi / mp.sqrt(p - 4 * q12 ** 2)
        return 2 / mp.pi * mp.asin(2 * q12 / mp.sqrt(p))
    if n == "sin":
        e = mp.exp(-(q1 + q2) / 2)
        return e * (mp.cosh(q12) if deriv else mp.sinh(q12))
    return None


def _inner(a, deriv):
    """(a_, b_) -> E[g(a_ + b_ Z)], g = phi or phi', Z ~ N(0, 1), b_ > 0; None if not closed."""
    n = a.name
    if n == "linear":
        return (lambda m, b: mp.one) if deriv else (lambda m, b: m)
    if n in ("relu", "leaky_relu"):
        s = mp.zero if n == "relu" else a.slope
        if deriv:
            return lambda m, b: _ncdf(m / b) + s * (1 - _ncdf(m / b))

        def f(m, b):
            pos = m * _ncdf(m / b) + b * _npdf(m / b)
            return pos + s * (m - pos)
        return f
    if n == "erf":
        if deriv:
            return lambda m, b: 2 / mp.sqrt(mp.pi) * mp.exp(-m * m / (1 + 2 * b * b)) / mp.sqrt(1 + 2 * b * b)
        return lambda m, b: mp.erf(m / mp.sqrt(1 + 2 * b * b))
    if n == "gelu":
        if deriv:
            def f(m, b):
                s = mp.sqrt(1 + b * b)
                return _ncdf(m / s) + m * _npdf(m / s) / s ** 3
            return f

        def f(m, b):
            s = mp.sqrt(1 + b * b)
            return m * _ncdf(m / s) + b * b * _npdf(m / s) / s
        return f
    if n == "hardtanh":
        if deriv:
            return lambda m, b: _ncdf((1 - m) / b) - _ncdf((-1 - m) / b)

        def f(m, b):
            t1, t2 = (-1 - m) / b, (1 - m) / b
            return (-_ncdf(t1) + 1 - _ncdf(t2) + m * (_ncdf(t2) - _ncdf(t1))
                    + b * (_npdf(t1) - _npdf(t2)))
        return f
    if n in ("selu", "elu"):
        lam, al = (SELU_LAMBDA, SELU_ALPHA) if n == "selu" else (mp.one, mp.one)
        if deriv:
            return lambda m, b: lam * (_ncdf(m / b) + al * mp.exp(m + b * b / 2) * _ncdf(-m / b - b))
        return lambda m, b: lam * (m * _ncdf(m / b) + b * _npdf(m / b)
                                   + al * (mp.exp(m + b * b / 2) * _ncdf(-m / b - b) - _ncdf(-m / b)))
    if n == "sin":
        if deriv:
            return lambda m, b: mp.cos(m) * mp.exp(-b * b / 2)
        return lambda m, b: mp.sin(m) * mp.exp(-b * b / 2)
    return None


def _bivar_inner(a, q1, q2, c, deriv):
    g = a.dphi if deriv else a.phi
    inner = _inner(a, deriv)
    if inner is None:
        raise ValueError(f"no closed inner expectation for {a.name}")
    s1, s2 = mp.sqrt(q1), mp.sqrt(q2)
    b = s2 * mp.sqrt(1 - c * c)
    pts = set(_zpoints(a.xpoints(q1), s1, ZMAX))
    if c != 0:
        # the inner expectation changes character where a = s2 c z1 is at a feature of phi,
        # over a width b in a, i.e. sqrt(1 - c^2)/|c| in z1
        w = mp.sqrt(1 - c * c) / abs(c)
        for x in a.scale_points + a.kinks:
            z0 = x / (s2 * c)
            for k in (0, 1, -1, 4, -4):
                z = z0 + k * w
                if abs(z) < ZMAX:
                    pts.add(z)
        if a.name == "sin":     # oscillation of sin(a) in the inner form
            pts.update(_zpoints(a.xpoints(q2 * c * c), s2 * abs(c), ZMAX))
    pts = sorted(pts)
    norm = 1 / mp.sqrt(2 * mp.pi)
    return mp.quad(lambda z: g(s1 * z) * inner(s2 * c * z, b) * mp.exp(-z * z / 2), pts) * norm


def _bivar_nested(a, q1, q2, c, deriv):
    """Outer quad over z1, inner quad over z2: no closed forms at all (NESTED_DPS digits)."""
    g = a.dphi if deriv else a.phi
    with mp.workdps(NESTED_DPS):
        s1, s2 = mp.sqrt(q1), mp.sqrt(q2)
        b = s2 * mp.sqrt(1 - c * c)
        norm = 1 / (2 * mp.pi)
        zm = mp.mpf(ZMAX_NESTED)

        def inner(z1):
            m = s2 * c * z1
            pts = {-zm, zm}
            for x in a.breaks(m - b * zm, m + b * zm):
                pts.add((x - m) / b)
            return mp.quad(lambda z2: g(m + b * z2) * mp.exp(-z2 * z2 / 2), sorted(pts))

        def outer(z1):
            g1 = g(s1 * z1)
            if g1 == 0:
                return g1
            return g1 * inner(z1) * mp.exp(-z1 * z1 / 2)

        # odd phi (even phi'): the integrand is invariant under (z1, z2) -> (-z1, -z2)
        if a.odd:
            pts = [p for p in _zpoints(a.xpoints(q1, zm), s1, zm) if p >= 0]
            val = 2 * mp.quad(outer, pts)
        else:
            val = mp.quad(outer, _zpoints(a.xpoints(q1, zm), s1, zm))
        val = val * norm
    return +val


@functools.lru_cache(maxsize=8)
def gauss_hermite(n):
    """Nodes and weights of the n-point Gauss-Hermite rule for E[f(z)], z ~ N(0, 1) (sum w = 1)."""
    with mp.workdps(DPS + 10):
        # physicists' rule by Newton on the orthonormal recurrence (Numerical Recipes' gauher)
        pim4 = mp.pi ** mp.mpf(-0.25)
        xs, ws = [mp.zero] * n, [mp.zero] * n
        z = mp.zero
        for i in range((n + 1) // 2):
            if i == 0:
                z = mp.sqrt(2 * n + 1) - 1.85575 * (2 * n + 1) ** (-1 / 6.0)
            elif i == 1:
                z -= 1.14 * n ** 0.426 / z
            elif i == 2:
                z = 1.86 * z - 0.86 * xs[0]
            elif i == 3:
                z = 1.91 * z - 0.91 * xs[1]
            else:
                z = 2 * z - xs[i - 2]
            for _ in range(100):
                p1, p2 = pim4, mp.zero
                for j in range(1, n + 1):
                    p3, p2 = p2, p1
                    p1 = z * mp.sqrt(mp.mpf(2) / j) * p2 - mp.sqrt(mp.mpf(j - 1) / j) * p3
                pp = mp.sqrt(2 * n) * p2
                z1, z = z, z - p1 / pp
                if abs(z - z1) < mp.mpf(10) ** (-DPS - 5):
                    break
            xs[i], xs[n - 1 - i] = z, -z
            ws[i] = ws[n - 1 - i] = 2 / pp ** 2
        s2 = mp.sqrt(2)
        nodes = [x * s2 for x in xs]
        weights = [w / mp.sqrt(mp.pi) for w in ws]
    return nodes, weights


def _bivar_gh(a, q1, q2, c, deriv, n=160):
    g = a.dphi if deriv else a.phi
    xs, ws = gauss_hermite(n)
    s1, s2, s = mp.sqrt(q1), mp.sqrt(q2), mp.sqrt(1 - c * c)
    tot = mp.zero
    for x, w in zip(xs, ws):
        g1 = g(s1 * x)
        m = s2 * c * x
        tot += w * g1 * mp.fdot([g(m + s2 * s * y) for y in xs], ws)
    return tot


@functools.lru_cache(maxsize=None)
def _bivar(a, q1, q2, c, deriv, method):
    if not -1 <= c <= 1:
        raise ValueError(f"c = {c} outside [-1, 1]")
    g = a.dphi if deriv else a.phi
    if method == "auto":
        if c == 0:          # independence: E[g(u1)] E[g(u2)]
            one = _Mp if deriv else _M
            return one(a, q1, "auto") * one(a, q2, "auto")
        if abs(c) == 1:     # u2 = +-sqrt(q2/q1) u1: a 1D integral
            r = c * mp.sqrt(q2 / q1)
            xp = a.xpoints(q1) + tuple(x / r for x in a.xpoints(q2))
            return quad1(lambda x: g(x) * g(r * x), q1, xp)
        v = _closed_C(a, q1, q2, c, deriv)
        if v is not None:
            return +v
        if _inner(a, deriv) is not None:
            return _bivar_inner(a, q1, q2, c, deriv)
        return _bivar_nested(a, q1, q2, c, deriv)
    if method == "closed":
        v = _closed_C(a, q1, q2, c, deriv)
        if v is None:
            raise ValueError(f"no bivariate closed form for {a.name}")
        return +v
    if method == "inner":
        return _bivar_inner(a, q1, q2, c, deriv)
    if method == "nested":
        return _bivar_nested(a, q1, q2, c, deriv)
    if method == "gh":
        return _bivar_gh(a, q1, q2, c, deriv)
    raise ValueError(method)


def C(name, q1, q2, c, method="auto"):
    """E[phi(u1) phi(u2)]."""
    return _bivar(act(name), _m(q1), _m(q2), _m(c), False, method)


def Cd(name, q1, q2, c, method="auto"):
    """E[phi'(u1) phi'(u2)]."""
    return _bivar(act(name), _m(q1), _m(q2), _m(c), True, method)


# --------------------------------------------------------------------------------------------
# maps, fixed points, depth scales


def qmap(name, sw2, sb2, q):
    """sigma_w^2 V(q) + sigma_b^2."""
    return _m(sw2) * V(name, q) + _m(sb2)


def cmap(name, sw2, sb2, c, q):
    """One layer of the correlation map at q1 = q2 = q: q12_out / q_out (output variances)."""
    sw2, sb2 = _m(sw2), _m(sb2)
    return (sw2 * C(name, q, q, c) + sb2) / (sw2 * V(name, q) + sb2)


def _sign(x):
    return (x > 0) - (x < 0)


def _illinois(f, a, b, fa=None, fb=None, rtol=None):
    """Root of f in the bracket [a, b] (f(a), f(b) of opposite signs): Illinois regula falsi."""
    rtol = rtol if rtol is not None else mp.mpf(10) ** (-mp.dps + 3)
    fa = f(a) if fa is None else fa
    fb = f(b) if fb is None else fb
    if fa == 0:
        return a
    if fb == 0:
        return b
    if _sign(fa) == _sign(fb):
        raise ValueError("not a bracket")
    side = 0
    for _ in range(500):
        x = (a * fb - b * fa) / (fb - fa)
        if not (min(a, b) < x < max(a, b)):
            x = (a + b) / 2
        fx = f(x)
        if fx == 0:
            return x
        if _sign(fx) == _sign(fb):
            b, fb = x, fx
            if side == -1:
                fa /= 2
            side = -1
        else:
            a, fa = x, fx
            if side == 1:
                fb /= 2
            side = 1
        if abs(b - a) <= rtol * max(abs(x), mp.mpf(10) ** (-mp.dps)):
            return x
    raise RuntimeError("Illinois did not converge")


@functools.lru_cache(maxsize=None)
def _fixed_point(a, sw2, sb2, q0):
    def g(q):
        return sw2 * _V(a, q, "auto") + sb2

    def f(q):
        return g(q) - q

    collapse_possible = sb2 == 0 and a.phi0 == 0
    tiny = mp.mpf(10) ** -40
    q = q0
    fq = f(q)
    if fq == 0:
        return q
    d = _sign(fq)
    prev = q
    for _ in range(40):
        new = g(q)
        if new > 10 ** 12:
            raise ValueError(f"q diverges ({a.name}, sw2={sw2}, sb2={sb2})")
        prev, q = q, new
        if q == 0 or (collapse_possible and q < tiny):
            return mp.zero
        if abs(q - prev) <= mp.mpf(10) ** -8 * q:
            break
    fq = f(q)
    if fq == 0:
        return q
    if _sign(fq) != d:      # overshoot cannot happen for an increasing map, but be safe
        return _illinois(f, prev, q)
    # bracket: move from q in the direction d until f changes sign
    step = 2 * abs(q - prev)
    lo, flo = q, fq
    while True:
        hi = lo + d * step
        if hi <= 0:
            # towards zero: geometric search
            x = lo
            while True:
                x = x / 16
                fx = f(x)
                if _sign(fx) != d:
                    return _illinois(f, x, lo, fx, flo)
                if x < tiny:
                    if collapse_possible:
                        return mp.zero
                    raise ValueError("fixed point search reached q = 1e-40")
                lo, flo = x, fx
        fhi = f(hi)
        if _sign(fhi) != d:
            return _illinois(f, lo, hi, flo, fhi)
        if hi > 10 ** 12:
            raise ValueError(f"q diverges ({a.name}, sw2={sw2}, sb2={sb2})")
        lo, flo = hi, fhi
        step *= 2


def fixed_point(name, sw2, sb2, q0=1):
    """The attracting fixed point of q -> sw2 V(q) + sb2 reached from q0 (0 for a collapse)."""
    a = act(name)
    q = _fixed_point(a, _m(sw2), _m(sb2), _m(q0))
    s = slope_q_at(a, sw2, q)
    if s > 1 + mp.mpf(10) ** -20:
        raise RuntimeError(f"fixed point {q} is not attracting (slope {s})")
    return q


def slope_q_at(name, sw2, q):
    """Slope of the q-map sw2 V'(q) (q = 0: the limit sw2 phi'(0)^2, needs phi(0) = 0)."""
    a = act(name)
    q = _m(q)
    if q == 0:
        return _m(sw2) * a.dphi0_sq
    return _m(sw2) * _dVdq(a, q, "auto")


def chi1(name, sw2, sb2, q0=1):
    """sigma_w^2 D(q*)."""
    a = act(name)
    q = fixed_point(a, sw2, sb2, q0)
    return _m(sw2) * (a.dphi0_sq if q == 0 else D(a, q))


def slope_q(name, sw2, sb2, q0=1):
    return slope_q_at(name, sw2, fixed_point(name, sw2, sb2, q0))


def xi_q(name, sw2, sb2, q0=1):
    """-1/log(sw2 V'(q*))."""
    return -1 / mp.log(slope_q(name, sw2, sb2, q0))


@functools.lru_cache(maxsize=None)
def _c_star(a, sw2, sb2, q0):
    q = fixed_point(a, sw2, sb2, q0)
    if q == 0 or chi1(a, sw2, sb2, q0) <= 1:
        return mp.one

    def f(c):
        return (sw2 * _bivar(a, q, q, c, False, "auto") + sb2) / q - c

    f0 = f(mp.zero)
    if f0 == 0:
        return mp.zero
    if f0 < 0:
        raise RuntimeError("c-map below c at c = 0 (needs sigma_b^2 >= 0)")
    lo, flo = mp.zero, f0
    for k in range(1, 80):
        c = 1 - mp.mpf(2) ** -k
        fc = f(c)
        if fc < 0:
            return _illinois(f, lo, c, flo, fc, rtol=mp.mpf(10) ** -(mp.dps - 8))
        lo, flo = c, fc
    raise RuntimeError("no c* found below 1")


def c_star(name, sw2, sb2, q0=1):
    """Stable fixed point of the correlation map (1 in the ordered phase)."""
    return _c_star(act(name), _m(sw2), _m(sb2), _m(q0))


def chi_c(name, sw2, sb2, q0=1):
    """sigma_w^2 E[phi'(u1) phi'(u2)] at q*, c* (= chi_1 in the ordered phase)."""
    a = act(name)
    c = c_star(a, sw2, sb2, q0)
    if c == 1:
        return chi1(a, sw2, sb2, q0)
    q = fixed_point(a, sw2, sb2, q0)
    return _m(sw2) * Cd(a, q, q, c)


def xi_c(name, sw2, sb2, q0=1):
    """-1/log(chi_c)."""
    return -1 / mp.log(chi_c(name, sw2, sb2, q0))


# --------------------------------------------------------------------------------------------
# edge of chaos


def S(name, q):
    """q - V(q)/D(q): on the edge of chaos with fixed point q, sigma_b^2 = S(q)."""
    q = _m(q)
    return q - V(name, q) / D(name, q)


def critical_limit(name):
    """The sigma_b^2 = 0, q* -> 0 critical value 1/phi'(0)^2 (None if phi(0) != 0)."""
    a = act(name)
    return 1 / a.dphi0_sq if a.phi0 == 0 else None


CRIT_GRID = tuple(mp.mpf(10) ** (mp.mpf(k) / 8 - 4) for k in range(0, 7 * 8 + 1))


@functools.lru_cache(maxsize=None)
def _S_grid(a):
    return tuple(S(a, q) for q in CRIT_GRID)


@functools.lru_cache(maxsize=None)
def _critical(a, sb2):
    if a.name in ("linear", "relu", "leaky_relu"):     # S == 0: homogeneous q-map
        return ((1 / a.dphi0_sq, mp.zero),) if sb2 == 0 else ()
    out = []
    Sg = _S_grid(a)
    if sb2 == 0 and a.phi0 == 0 and Sg[0] > 0:
        out.append((1 / a.dphi0_sq, mp.zero))
    for i in range(len(CRIT_GRID) - 1):
        fa, fb = Sg[i] - sb2, Sg[i + 1] - sb2
        if fa == 0 or _sign(fa) != _sign(fb):
            q = _illinois(lambda t: S(a, t) - sb2, CRIT_GRID[i], CRIT_GRID[i + 1], fa, fb)
            out.append((1 / D(a, q), q))
    return tuple(out)


def critical(name, sb2):
    """Edge-of-chaos points for sigma_b^2 = sb2: list of (sigma_w^2, q*), q* = 0 for the limit."""
    return list(_critical(act(name), _m(sb2)))


# --------------------------------------------------------------------------------------------
# kernel propagation


def kernel(name, sw2, sb2, depth, q1, q2, c):
    """(q1, q2, c) of h^depth, given those of h^1: depth - 1 times "activation, then dense"."""
    a = act(name)
    sw2, sb2, q1, q2, c = map(_m, (sw2, sb2, q1, q2, c))
    for _ in range(int(depth) - 1):
        n1 = sw2 * _V(a, q1, "auto") + sb2
        n2 = n1 if q2 == q1 else sw2 * _V(a, q2, "auto") + sb2
        n12 = sw2 * _bivar(a, q1, q2, c, False, "auto") + sb2
        q1, q2, c = n1, n2, n12 / mp.sqrt(n1 * n2)
        c = min(max(c, -mp.one), mp.one)
    return q1, q2, c
