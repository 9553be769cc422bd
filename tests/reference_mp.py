"""Independent high-precision mean-field reference, written in pure mpmath.

Shares no code with the ``meanfield`` package (it never imports it); the tests compare the
package against the values computed here.  Conventions are those of DESIGN.md and
notes/meanfield.md: z, z1, z2 iid N(0, 1), u = sqrt(q) z, u1 = sqrt(q1) z1,
u2 = sqrt(q2) (c z1 + sqrt(1 - c^2) z2), weights of variance sigma_w^2 / fan-in.

Public functions: act, V, D, M, Mp, dVdq, C, Cd, qmap, cmap, fixed_point, chi1, slope_q,
slope_q_at, xi_q, c_star, chi_c, xi_c, S, critical, critical_limit, kernel, gauss_hermite.

How values are computed (``method="auto"`` picks the first route that applies; every other route
can be requested explicitly, which is what tests/meanfield/test_reference_selfcheck.py does):

* 1D expectations E[f(sqrt(q) z)]: closed forms (section 2 of the notes) evaluated in mpmath at
  50 digits, else tanh-sinh quadrature (``mp.quad``) in the standardised variable z on [-15, 15]
  (the Gaussian tail beyond is < 1e-48), split at 0, at the kinks of phi (z = kink / sqrt(q)), at
  phi's own scale (z = +-1, 4, 16 / sqrt(q)) and, for sin, at every multiple of pi.  30 digits.
  V'(q): derivative of the closed form (``mp.diff``), else E[phi^2 (z^2 - 1)] / (2q); Stein's
  E[phi'^2 + phi phi''] is the third route for smooth phi.
* Bivariate expectations E[g(u1) g(u2)] (g = phi or phi'):
  "closed"  bivariate closed forms (linear, relu, leaky_relu, erf, sin);
  "inner"   one outer Gauss-Legendre ``mp.quad`` over z1 of g(u1) E_z2[g(a + b z2)], with the
            closed-form inner conditional expectation, a = sqrt(q2) c z1, b = sqrt(q2 (1 - c^2))
            (linear, relu, leaky_relu, erf, gelu, hardtanh, selu, elu, sin);
  "nested"  outer and inner Gauss-Legendre ``mp.quad`` over z1 and z2, no closed forms at all,
            20 digits (the only route for tanh, sigmoid, softplus, silu; 1-3 s per value).
            Where phi = const + lin x + g with g odd or even, only E[g g] is integrated, over
            the half plane z1 >= 0;
  "gh"      Gauss-Hermite product rule (nodes computed here in mpmath), smooth phi, small q.
  c = 0 factorises (E[g(u1)] E[g(u2)]), c = +-1 reduces to a 1D integral.
* Fixed point q*: plain iterations of the q-map from q0 and a sign-change bracket in the direction
  of motion, at 16 digits; the root then polished by secant steps at 30 digits.  The collapse
  q* = 0 (sigma_b^2 = 0, phi(0) = 0, ordered) is detected and returned as exactly 0.
* c*: 1 in the ordered phase (chi_1 <= 1); otherwise the root in [0, 1) of the c-map minus c,
  bracketed by c = 0 (where the map is >= 0, since sigma_b^2 >= 0) and c = 1 - 2^-k (the map is
  convex on [0, 1] for q1 = q2, so it has exactly one root there besides c = 1); found at 16
  digits (for tanh, sigmoid, softplus, silu at q* <= 2 with a 100-point Gauss-Hermite rule) and
  polished by secant steps with the full-precision route.
* Edge of chaos: roots of S(q) = q - V(q)/D(q) = sigma_b^2 on a log grid 1e-4..1e6 (6 points per
  decade, signs at 16 digits), refined at 16 digits and polished by secant steps at 30;
  sigma_w^2 = 1/D(q).  For sigma_b^2 = 0 and phi(0) = 0 with S > 0 at small q, the q* -> 0 limit
  (1/phi'(0)^2, one-sided average at a kink) is reported as q = 0.
* kernel: DESIGN.md's depth counting (inputs are the statistics of x; see ``kernel``).

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
         "selu", "elu", "gelu", "silu", "mish", "sin")
KINKED = ("relu", "leaky_relu", "hardtanh", "selu", "elu")
NESTED_ONLY = ("tanh", "sigmoid", "softplus", "silu", "mish")
ODD = ("linear", "tanh", "hardtanh", "erf", "sin")


def _m(x):
    """Exact conversion to an mpf of the private context (floats keep their binary value)."""
    if isinstance(x, str):
        return mp.mpf(x)
    return mp.mpf(x)


_CONST = {}


def _consts():
    """(1/sqrt(2 pi), 1/sqrt(2)) at the current precision (cached per precision)."""
    k = mp.prec
    if k not in _CONST:
        _CONST[k] = (1 / mp.sqrt(2 * mp.pi), 1 / mp.sqrt(2))
    return _CONST[k]


def _npdf(x):
    return mp.exp(-x * x / 2) * _consts()[0]


def _ncdf(x):
    t = x * _consts()[1]
    return (1 + mp.erf(t)) / 2 if x > 0 else mp.erfc(-t) / 2


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
        if n == "mish":
            return x * mp.tanh(mp.log1p(mp.exp(x)))
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
        if n == "mish":  # d/dx x tanh(sp(x)) = tanh(sp) + x sech^2(sp) sigma(x)
            sp_ = mp.log1p(mp.exp(x))
            return mp.tanh(sp_) + x * mp.sech(sp_) ** 2 * _sigm(x)
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
        if n == "mish":
            return mp.diff(self.dphi, x)
        if n == "sin":
            return -mp.sin(x)
        raise ValueError(f"phi'' of {n} has delta parts; use the (z^2-1) route")

    # --- structure ------------------------------------------------------------------------
    def split(self, deriv):
        """(const, lin, g, parity): g(x) = f(x) - const - lin x has the given parity ("odd" or
        "even"), f = phi' if deriv else phi; None where no such split is known (selu, elu).

        With const = 0 when g is even and lin = 0 when g is odd, the cross terms vanish
        (E[g] = 0 for odd g; E[u1 g(u2)] = 0 for even g, by (z1, z2) -> (-z1, -z2)), so
        E[f(u1) f(u2)] = const^2 + lin^2 q12 + E[g(u1) g(u2)], whose integrand is symmetric."""
        n = self.name
        half = mp.one / 2
        f = self.dphi if deriv else self.phi
        if n in ODD:
            return (mp.zero, mp.zero, f, "even" if deriv else "odd")
        if n == "sigmoid":
            return (mp.zero, mp.zero, f, "even") if deriv else (half, mp.zero, lambda x: f(x) - half, "odd")
        if n in ("softplus", "silu", "gelu", "relu", "leaky_relu"):
            s = {"leaky_relu": self.slope}.get(n, mp.zero)
            if n in ("relu", "leaky_relu"):
                c0 = (1 + s) / 2    # (1+s)/2 x + (1-s)/2 |x|;  phi' = (1+s)/2 + (1-s)/2 sign(x)
                return ((c0, mp.zero, lambda x: f(x) - c0, "odd") if deriv
                        else (mp.zero, c0, lambda x: f(x) - c0 * x, "even"))
            if deriv:
                return (half, mp.zero, lambda x: f(x) - half, "odd")
            return (mp.zero, half, lambda x: f(x) - x / 2, "even")
        return None

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


def quad1(f, q, xpoints, error=False, method="tanh-sinh"):
    """E[f(sqrt(q) z)] by tanh-sinh quadrature in z, split at z = x/sqrt(q), x in xpoints."""
    sq = mp.sqrt(q)
    norm = 1 / mp.sqrt(2 * mp.pi)
    pts = _zpoints(xpoints, sq, ZMAX)
    val, err = mp.quad(lambda z: f(sq * z) * mp.exp(-z * z / 2), pts, error=True, method=method)
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


def _one_d(kind, a, q, method, rule="tanh-sinh"):
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
    return quad1(f, q, a.xpoints(q), method=rule)


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
    if method == "auto":
        # the derivative of the closed form where there is one (the (z^2 - 1) integral cancels
        # to an absolute, not relative, accuracy: sin at q = 20 has V' = e^-40)
        method = "closed" if _closed_V(a, q) is not None else "quad"
    if method == "quad":
        return quad1(lambda x: a.phi(x) ** 2 * (x * x / q - 1), q, a.xpoints(q)) / (2 * q)
    if method == "stein":      # E[phi'^2 + phi phi''], smooth phi only
        return quad1(lambda x: a.dphi(x) ** 2 + a.phi(x) * a.d2phi(x), q, a.xpoints(q))
    if method == "closed":     # derivative of the closed form of V (mpmath's high-precision diff)
        if _closed_V(a, q) is None:
            raise ValueError(f"no closed form of V for {a.name}")
        with mp.workdps(DPS + 20):
            d = mp.diff(lambda t: _closed_V(a, t), q)
        return +d
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
    # Gauss-Legendre: the pieces are analytic (kinks only at their ends); about three times
    # fewer evaluations than tanh-sinh here
    return mp.quad(lambda z: g(s1 * z) * inner(s2 * c * z, b) * mp.exp(-z * z / 2), pts,
                   method="gauss-legendre") * norm


def _bivar_nested(a, q1, q2, c, deriv):
    """Outer quad over z1, inner quad over z2, no closed forms at all (NESTED_DPS digits).

    Gauss-Legendre (mp.quad's adaptive-degree rule) in both directions: about five times fewer
    evaluations than tanh-sinh for these analytic pieces; the pieces end at the kinks of phi and at
    phi's scale points where they are not lost in the Gaussian weight.  Where f = const + lin x + g
    with g odd or even (Act.split), only E[g(u1) g(u2)] is integrated, over z1 >= 0 (doubled)."""
    split = a.split(deriv)
    with mp.workdps(min(NESTED_DPS, mp.dps)):
        s1, s2 = mp.sqrt(q1), mp.sqrt(q2)
        b = s2 * mp.sqrt(1 - c * c)
        zm = mp.mpf(ZMAX_NESTED)
        kinks = set(a.kinks)
        if split is None:
            const, lin, g = mp.zero, mp.zero, (a.dphi if deriv else a.phi)
        else:
            const, lin, g, _ = split

        def inner(z1):
            m = s2 * c * z1
            pts = {-zm, zm}
            for x in a.breaks(m - b * zm, m + b * zm):
                # scale points far apart (in z2) from the centre are in the smooth Gaussian tail
                if x in kinks or x == 0 or a.name == "sin" or abs(x) < 3 * b:
                    pts.add((x - m) / b)
            return mp.quad(lambda z2: g(m + b * z2) * mp.exp(-z2 * z2 / 2), sorted(pts),
                           method="gauss-legendre")

        def outer(z1):
            g1 = g(s1 * z1)
            if g1 == 0:
                return g1
            return g1 * inner(z1) * mp.exp(-z1 * z1 / 2)

        pts = _zpoints(a.xpoints(q1, zm), s1, zm)
        if split is not None:
            # the integrand g(u1) g(u2) is invariant under (z1, z2) -> (-z1, -z2)
            val = 2 * mp.quad(outer, [p for p in pts if p >= 0], method="gauss-legendre")
        else:
            val = mp.quad(outer, pts, method="gauss-legendre")
        val = val / (2 * mp.pi) + const ** 2 + lin ** 2 * c * s1 * s2
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
        if abs(mp.fsum(weights) - 1) > mp.mpf(10) ** -DPS or any(
                nodes[i] <= nodes[i + 1] for i in range(n - 1)):
            raise RuntimeError(f"Gauss-Hermite rule of degree {n} failed (use n <= 160)")
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


def _bivar_route(a, q1, q2, c, deriv, method):
    """E[g(u1) g(u2)] at the current precision, uncached."""
    if not -1 <= c <= 1:
        raise ValueError(f"c = {c} outside [-1, 1]")
    g = a.dphi if deriv else a.phi
    if method == "auto":
        if c == 0:          # independence: E[g(u1)] E[g(u2)]
            kind = "Mp" if deriv else "M"
            return _one_d(kind, a, q1, "auto") * _one_d(kind, a, q2, "auto")
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


@functools.lru_cache(maxsize=None)
def _bivar(a, q1, q2, c, deriv, method):
    return _bivar_route(a, q1, q2, c, deriv, method)


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


LOW_DPS = 16


def _solve(f, lo, hi, f_low=None, flo=None, fhi=None, digits=None):
    """Root of f in the bracket [lo, hi]; f is accurate to ``digits`` (default: the precision).

    With f_low (the same function, cheaper: LOW_DPS digits, uncached, or a coarser rule), the root
    is first found with f_low by Illinois to 13 digits, then polished by secant steps with f.
    A secant step from a good start is Newton-like (next error ~ step^2), so a step below
    sqrt(tol/100) ends the polish; the result must stay in the bracket, else a full-precision
    Illinois solve is done."""
    if f_low is None:
        return _illinois(f, lo, hi, flo, fhi)
    digits = digits or mp.dps
    tol = mp.mpf(10) ** (2 - digits)
    try:
        with mp.workdps(LOW_DPS):
            x0 = _illinois(f_low, lo, hi, rtol=mp.mpf(10) ** -13)
    except ValueError:      # the bracket is at the low-precision noise level
        x0 = (lo + hi) / 2
    x0 = mp.mpf(x0)
    x1 = x0 + max(abs(x0), mp.mpf(10) ** -6) * mp.mpf(10) ** -10
    f0, f1 = f(x0), f(x1)
    for _ in range(10):
        if f1 == 0:
            x2 = x1
            break
        if f1 == f0:
            x2 = None
            break
        x2 = x1 - f1 * (x1 - x0) / (f1 - f0)
        step = abs(x2 - x1)
        scale = abs(x2) + mp.mpf(10) ** -digits
        if step <= tol * scale or step ** 2 <= tol * scale ** 2 / 100:
            break
        x0, f0, x1 = x1, f1, x2
        f1 = f(x1)
    else:
        x2 = None
    if x2 is not None and lo <= x2 <= hi:
        return x2
    return _illinois(f, lo, hi, flo, fhi)


@functools.lru_cache(maxsize=None)
def _fixed_point(a, sw2, sb2, q0):
    """Attracting fixed point reached from q0: iteration and bracketing at LOW_DPS digits
    (uncached), then the root polished at full precision (see _solve)."""
    def f(q):
        return sw2 * _V(a, q, "auto") + sb2 - q

    def f_low(q):
        return sw2 * _one_d("V", a, q, "auto", "gauss-legendre") + sb2 - q

    collapse_possible = sb2 == 0 and a.phi0 == 0
    tiny = mp.mpf(10) ** -40
    if f(q0) == 0:
        return q0
    with mp.workdps(LOW_DPS):
        lo, hi = _fixed_point_bracket(f_low, q0, collapse_possible, tiny, a, sw2, sb2)
    if hi is None:
        return mp.zero
    lo, hi = min(lo, hi), max(lo, hi)
    flo, fhi = f(lo), f(hi)
    delta = mp.mpf(10) ** -14
    while _sign(flo) == _sign(fhi) and flo != 0:
        # the low-precision bracket is at its noise level (e.g. q0 = q* = 1 for SELU): widen it
        lo, hi = lo / (1 + delta), hi * (1 + delta)
        flo, fhi = f(lo), f(hi)
        delta *= 4
        if delta > 1:
            raise RuntimeError("could not bracket the fixed point at full precision")
    return _solve(f, lo, hi, f_low, flo, fhi)


def _fixed_point_bracket(f, q0, collapse_possible, tiny, a, sw2, sb2):
    """(lo, hi) bracketing the fixed point reached from q0, or (0, None) for the collapse q* = 0.

    The q-map is increasing, so the iterates move monotonically towards the first fixed point in
    the direction of sign(f(q0)); a few plain iterations, then steps doubling from twice the last
    increment until f changes sign (geometric steps towards 0)."""
    fq = f(q0)
    d = _sign(fq)
    if d == 0:
        return q0, q0
    prev, q = q0, q0
    for _ in range(40):
        new = q + f(q)
        if new > 10 ** 12:
            raise ValueError(f"q diverges ({a.name}, sw2={sw2}, sb2={sb2})")
        prev, q = q, new
        if q <= 0 or (collapse_possible and q < tiny):
            return mp.zero, None
        if abs(q - prev) <= mp.mpf(10) ** -8 * q:
            break
    fq = f(q)
    if _sign(fq) != d:          # rounding-level overshoot
        return prev, q
    step = 2 * abs(q - prev) + mp.mpf(10) ** -14 * q
    lo = q
    while True:
        hi = lo + d * step
        if hi <= 0:             # towards zero: geometric steps
            x = lo
            while True:
                x = x / 16
                if _sign(f(x)) != d:
                    return x, lo
                if x < tiny:
                    if collapse_possible:
                        return mp.zero, None
                    raise ValueError("fixed point search reached q = 1e-40")
                lo = x
        if _sign(f(hi)) != d:
            return lo, hi
        if hi > 10 ** 12:
            raise ValueError(f"q diverges ({a.name}, sw2={sw2}, sb2={sb2})")
        lo = hi
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

    digits = None
    if a.name in NESTED_ONLY:
        digits = NESTED_DPS
    if a.name in NESTED_ONLY and q <= 2:
        # only a starting value is needed (polished with the nested route): a 100-point
        # Gauss-Hermite product rule, good to ~1e-13 for these analytic phi at q <= 2
        def f_low(c):
            return (sw2 * _bivar_gh(a, q, q, c, False, 100) + sb2) / q - c
    else:
        def f_low(c):
            return (sw2 * _bivar_route(a, q, q, c, False, "auto") + sb2) / q - c

    f0 = f(mp.zero)
    if abs(f0) <= mp.mpf(10) ** (5 - mp.dps):
        # c* = 0: odd phi without bias, and SELU at its self-normalising point, where
        # E[selu(z)] = 0 holds only to the precision of the constants lambda, alpha
        return mp.zero
    if f0 < 0:
        raise RuntimeError("c-map below c at c = 0 (needs sigma_b^2 >= 0)")
    lo = mp.zero
    for k in range(1, 80):
        c = 1 - mp.mpf(2) ** -k
        with mp.workdps(LOW_DPS):
            fc = f_low(c)
        if fc < 0:
            return _solve(f, lo, c, f_low, digits=digits)
        lo = c
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


CRIT_GRID = tuple(mp.mpf(10) ** (mp.mpf(k) / 6 - 4) for k in range(0, 10 * 6 + 1))   # 1e-4..1e6


@functools.lru_cache(maxsize=None)
def _S_grid(a):
    """S on CRIT_GRID at 16 digits (only its signs are used; roots are refined at full precision).
    Bypasses the caches of V and D so that no low-precision value is ever cached."""
    with mp.workdps(16):
        gl = "gauss-legendre"
        return tuple(+(q - _one_d("V", a, q, "auto", gl) / _one_d("D", a, q, "auto", gl)) for q in CRIT_GRID)


@functools.lru_cache(maxsize=None)
def _critical(a, sb2):
    if a.name in ("linear", "relu", "leaky_relu"):     # S == 0: homogeneous q-map
        return ((1 / a.dphi0_sq, mp.zero),) if sb2 == 0 else ()
    out = []
    # S - sb2 on the grid; values at the 16-digit rounding level carry no sign and are skipped
    # (hard-tanh's S vanishes to all digits at small q, where it is linear)
    vals = [(q, v - sb2) for q, v in zip(CRIT_GRID, _S_grid(a)) if abs(v - sb2) > q * 1e-12]
    if sb2 == 0 and a.phi0 == 0 and vals and vals[0][1] > 0:
        out.append((1 / a.dphi0_sq, mp.zero))
    for (qa, fa), (qb, fb) in zip(vals, vals[1:]):
        if _sign(fa) != _sign(fb):
            q = _solve(lambda t: S(a, t) - sb2, qa, qb,
                       lambda t: (t - _one_d("V", a, t, "auto", "gauss-legendre")
                                  / _one_d("D", a, t, "auto", "gauss-legendre") - sb2))
            out.append((1 / D(a, q), q))
    return tuple(out)


def critical(name, sb2):
    """Edge-of-chaos points for sigma_b^2 = sb2: list of (sigma_w^2, q*), q* = 0 for the limit."""
    return list(_critical(act(name), _m(sb2)))


# --------------------------------------------------------------------------------------------
# kernel propagation


def kernel(name, sw2, sb2, depth, q1, q2, c, inputs="x"):
    """(q1, q2, c) of h^depth for two inputs.

    DESIGN.md: depth counts weight layers, K^1 = sigma_w^2 X X^T / n_0 + sigma_b^2, then depth - 1
    times "activation, then dense" (neural-tangents' serial(Dense, (act, Dense) x (L-1)) on the
    input kernel x x'^T / n_0).  With inputs="x" (default) q1, q2, c are the statistics of the two
    network inputs, |x|^2 / n_0 and their cosine, and depth = 1 returns K^1; with inputs="h1" they
    are already those of h^1 and depth = 1 returns them unchanged."""
    a = act(name)
    sw2, sb2, q1, q2, c = map(_m, (sw2, sb2, q1, q2, c))
    if inputs == "x":
        n12 = sw2 * c * mp.sqrt(q1 * q2) + sb2
        q1, q2 = sw2 * q1 + sb2, sw2 * q2 + sb2
        c = n12 / mp.sqrt(q1 * q2)
    elif inputs != "h1":
        raise ValueError(inputs)
    for _ in range(int(depth) - 1):
        n1 = sw2 * _V(a, q1, "auto") + sb2
        n2 = n1 if q2 == q1 else sw2 * _V(a, q2, "auto") + sb2
        n12 = sw2 * _bivar(a, q1, q2, c, False, "auto") + sb2
        q1, q2, c = n1, n2, n12 / mp.sqrt(n1 * n2)
        c = min(max(c, -mp.one), mp.one)
    return q1, q2, c
