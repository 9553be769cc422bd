"""Independent high-precision reference for the exact finite-width laws of Gaussian ReLU networks.

Written in pure mpmath; shares no code with the ``exact`` or ``meanfield`` packages (it imports
neither).  Conventions: DESIGN.md and notes/exact.md.  Widths [n_0, ..., n_L]; hidden ReLU layers
1..L-1; the output f is one pre-activation of layer L; W^l_ij ~ N(0, sigma_w^2/n_{l-1}),
b^l_i ~ N(0, sigma_b^2); s_1 = sigma_w^2 |x^0|^2/n_0 + sigma_b^2 (default |x^0|^2 = n_0).
Burkholz & Dubatovka 2019 (R1, R2 of the notes): given layer l-1 the pre-activations of layer l are
iid N(0, s_l); K_l ~ Bin(n_l, 1/2) units are active and

    Y_l = |x^l|^2 = s_l chi^2_{K_l} = n_l s_l G_l,   G_l = chi^2_{K_l}/n_l,
    s_{l+1} = sigma_b^2 + sigma_w^2 Y_l/n_l,          f | s_L ~ N(0, s_L).

Parameter sharing (looks-linear, R8): widths are the template's, the chain is the same with K_l = n_l
(no atoms) and Y_l = |z^l|^2.

Three routes, each usable alone (tests/exact/test_reference_exact_selfcheck.py checks them against
each other):

* **Moments (R4), any bias, any widths, sharing:** the exact recursion
  E[G^j] = (2/n)^j sum_k C(n,k) 2^-n (k/2)_j, E[M_l^j] = E[s_l^j] E[G_l^j],
  E[s_{l+1}^j] = sum_i C(j,i) sigma_b^{2(j-i)} sigma_w^{2i} E[M_l^i], E[f^{2j}] = (2j-1)!! E[s_L^j],
  in mpmath arithmetic at 50 digits (:func:`moment_s`, :func:`moment_M`, :func:`moment_Y`,
  :func:`moment_f`).
* **Mellin / Fourier inversion (method B), zero bias:** given that no layer died, the log of the
  signal is a constant plus a sum of independent log G_j (and log xi^2 for the output), whose
  characteristic functions are binomial mixtures of Gamma(k/2 + i w)/Gamma(k/2).  The density is the
  trapezoidal cosine sum (eta/pi)[1/2 + sum_k Re(phi(k eta) e^{-i k eta x})] and the CDF the
  trapezoidal Gil-Pelaez sum 1/2 - eta (E X - x)/(2 pi) - (1/pi) sum_k Im(phi(k eta) e^{-i k eta x})/k.
  Both are EXACT (Poisson summation / the sawtooth series) for a law supported in a window of length
  < 2 pi/eta containing x; the window is chosen by Chernoff bounds with the exact real Mellin
  transform so that the mass outside is < 1e-35, and the frequency sum is cut where the monotone bound
  prod_j sum_k w_k |Gamma(k/2 + i w)|/Gamma(k/2) < 1e-35.  Evaluated at 30 digits: stated accuracy
  ~1e-30 absolute in the log-space density and CDF (checked by window/step changes in the self-check),
  i.e. relative 1e-20 wherever the density is above 1e-10 of its peak (:class:`MellinLaw`,
  :func:`mellin`).
* **Meijer-G sums (method C), zero bias, tiny nets:** sum over activity patterns of the density of a
  product of unit Gammas, G^{m,0}_{0,m}(u | a_i - 1)/prod Gamma(a_i), and of its CDF
  u G^{m,1}_{1,m+1}(u | 0; a_i - 1, -1)/prod Gamma(a_i), via ``mpmath.meijerg`` at 30 digits
  (:func:`meijer_pdf`, :func:`meijer_cdf`).  Patterns with the same multiset of shapes are merged.
* **Direct convolution, any bias, 2-3 layers of tiny width:** the law of s_l as nested expectations
  E[h(s_l)] = 2^-n h(sigma_b^2) + sum_{k>=1} w_k E_gamma[E[h(sigma_b^2 + c s_{l-1} gamma)]],
  gamma ~ Gamma(k/2, 1), each gamma expectation one tanh-sinh ``mp.quad`` at 20 digits; densities
  and CDFs of Y_l, s_l and f from the closed-form conditional laws (chi^2 density and regularized
  incomplete gamma; Gaussian density and normal CDF) (:func:`conv_pdf`, :func:`conv_cdf`,
  :func:`conv_expect`).  Cost grows as (quadrature points)^(l-1): use l <= 3.

Quantities ("kind"): ``"Y"`` (squared norm |x^l|^2, l = 1..L-1, atom at 0), ``"s"`` (pre-activation
variance s_l, l = 1..L; atom at sigma_b^2 when the previous layer is dead; s_1 is a point mass) and
``"f"`` (one output unit; an atom at 0 for zero bias).  Densities exclude atoms, CDFs include them.
All public functions return mpf numbers of the private mpmath context ``mp``; the global mpmath
context is never touched.
"""
from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass

from mpmath.ctx_mp import MPContext

mp = MPContext()
DPS = 50          # moments
MELLIN_DPS = 30   # Fourier inversion
MEIJER_DPS = 30   # Meijer-G sums
CONV_DPS = 25     # nested quadrature (direct convolution with bias)
mp.dps = DPS

#: mass outside the Mellin window and the frequency-sum cut
MELLIN_EPS = mp.mpf("1e-35")


# ---------------------------------------------------------------------------------------------
# the network


@dataclass(frozen=True)
class Net:
    """Parameters of a Gaussian ReLU network (template widths when ``sharing``)."""

    widths: tuple
    sigma_w2: object   # mpf
    sigma_b2: object   # mpf
    input_norm2: object  # mpf
    sharing: bool

    @property
    def L(self) -> int:
        return len(self.widths) - 1


def net(widths, sigma_w2=2, sigma_b2=0, input_norm2=None, parameter_sharing=False) -> Net:
    """A :class:`Net`; floats are converted exactly (decimal strings are parsed at 50 digits)."""
    widths = tuple(int(n) for n in widths)
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths must be >= 1 and list n_0..n_L with L >= 1, got {widths}")
    a, b = _mpf(sigma_w2), _mpf(sigma_b2)
    if a <= 0 or b < 0:
        raise ValueError(f"need sigma_w2 > 0 and sigma_b2 >= 0, got {sigma_w2}, {sigma_b2}")
    r = _mpf(widths[0] if input_norm2 is None else input_norm2)
    if r <= 0:
        raise ValueError(f"input_norm2 must be > 0, got {input_norm2}")
    return Net(widths, a, b, r, bool(parameter_sharing))


def _mpf(x):
    with mp.workdps(DPS):
        return mp.mpf(x)


def _check_layer(nt: Net, kind: str, l: int) -> None:
    top = {"Y": nt.L - 1, "s": nt.L, "f": nt.L}[kind]
    if kind == "f":
        return
    if not 1 <= l <= top:
        raise ValueError(f"{kind}: layer {l} not in 1..{top}")


@functools.lru_cache(maxsize=None)
def kweights(n: int, sharing: bool = False) -> tuple:
    """((k, P(K = k)), ...) for k = 0..n: Bin(n, 1/2) weights, or K = n for parameter sharing."""
    with mp.workdps(DPS):
        if sharing:
            return ((n, mp.mpf(1)),)
        return tuple((k, mp.binomial(n, k) / mp.mpf(2) ** n) for k in range(n + 1))


def s1(nt: Net):
    """The deterministic first-layer variance s_1 = sigma_w^2 |x^0|^2/n_0 + sigma_b^2."""
    with mp.workdps(DPS):
        return nt.sigma_w2 * nt.input_norm2 / nt.widths[0] + nt.sigma_b2


def mean_field(nt: Net) -> list:
    """q_1 = s_1, q_{l+1} = sigma_b^2 + sigma_w^2 E[G] q_l (E[G] = 1/2 for ReLU, 1 for sharing)."""
    with mp.workdps(DPS):
        g = mp.mpf(1) if nt.sharing else mp.mpf(1) / 2
        q = [s1(nt)]
        for _ in range(nt.L - 1):
            q.append(nt.sigma_b2 + nt.sigma_w2 * g * q[-1])
        return q


# ---------------------------------------------------------------------------------------------
# atoms


def layer_dead(n: int, sharing: bool = False):
    """P(K = 0) = 2^-n (0 with parameter sharing)."""
    with mp.workdps(DPS):
        return mp.mpf(0) if sharing else mp.mpf(2) ** (-n)


def dead_probability(nt: Net, upto: int | None = None):
    """P(some hidden layer j <= upto has no active unit) = 1 - prod (1 - 2^-n_j); upto = L-1 by default."""
    upto = nt.L - 1 if upto is None else upto
    with mp.workdps(DPS):
        alive = mp.mpf(1)
        for n in nt.widths[1:upto + 1]:
            alive *= 1 - layer_dead(n, nt.sharing)
        return 1 - alive


def atom(nt: Net, kind: str, l: int | None = None):
    """(location, mass) of the atom of a law; mass 0 if there is none.

    Y_l: at 0, mass 2^-n_l (bias) or 1 - prod_{j<=l}(1 - 2^-n_j) (zero bias).  s_l (l >= 2): at
    sigma_b^2 with the mass of Y_{l-1}; s_1 is a point mass (mass 1).  f: at 0 with the mass of
    Y_{L-1} when sigma_b^2 = 0, else none.
    """
    with mp.workdps(DPS):
        zero = mp.mpf(0)
        if kind == "Y":
            _check_layer(nt, kind, l)
            if nt.sigma_b2 > 0:
                return zero, layer_dead(nt.widths[l], nt.sharing)
            return zero, dead_probability(nt, l)
        if kind == "s":
            _check_layer(nt, kind, l)
            if l == 1:
                return s1(nt), mp.mpf(1)
            return nt.sigma_b2, atom(nt, "Y", l - 1)[1]
        if kind == "f":
            if nt.sigma_b2 > 0 or nt.L == 1:
                return zero, zero
            return zero, atom(nt, "Y", nt.L - 1)[1]
    raise ValueError(f"kind must be 'Y', 's' or 'f', got {kind!r}")


# ---------------------------------------------------------------------------------------------
# R4: moments


@functools.lru_cache(maxsize=None)
def moment_G(n: int, j: int, sharing: bool = False):
    """E[G^j], G = chi^2_K/n: (2/n)^j sum_k P(K=k) (k/2)_j (the k = 0 term is 0 for j >= 1)."""
    with mp.workdps(DPS):
        if j == 0:
            return mp.mpf(1)
        return (mp.mpf(2) / n) ** j * mp.fsum(w * mp.rf(mp.mpf(k) / 2, j) for k, w in kweights(n, sharing))


@functools.lru_cache(maxsize=None)
def _moments_s(nt: Net, l: int, jmax: int) -> tuple:
    """(E[s_l^0], ..., E[s_l^jmax])."""
    with mp.workdps(DPS):
        if l == 1:
            return tuple(s1(nt) ** j for j in range(jmax + 1))
        prev = _moments_s(nt, l - 1, jmax)
        n = nt.widths[l - 1]
        m = [prev[i] * moment_G(n, i, nt.sharing) for i in range(jmax + 1)]  # E[M_{l-1}^i]
        a, b = nt.sigma_w2, nt.sigma_b2
        return tuple(
            mp.fsum(mp.binomial(j, i) * b ** (j - i) * a ** i * m[i] for i in range(j + 1))
            for j in range(jmax + 1)
        )


def moment_s(nt: Net, l: int, j: int):
    """E[s_l^j] (R4), any bias; j >= 0 an integer."""
    _check_layer(nt, "s", l)
    return _moments_s(nt, l, j)[j]


def moment_Y(nt: Net, l: int, j: int):
    """E[Y_l^j] = n_l^j E[s_l^j] E[G_l^j], Y_l = |x^l|^2 (|z^l|^2 with sharing)."""
    _check_layer(nt, "Y", l)
    n = nt.widths[l]
    with mp.workdps(DPS):
        return mp.mpf(n) ** j * moment_s(nt, l, j) * moment_G(n, j, nt.sharing)


def moment_M(nt: Net, l: int, j: int):
    """E[M_l^j] = E[s_l^j] E[G_l^j], M_l = |x^l|^2/n_l (R4)."""
    _check_layer(nt, "Y", l)
    with mp.workdps(DPS):
        return moment_s(nt, l, j) * moment_G(nt.widths[l], j, nt.sharing)


def moment_f(nt: Net, k: int):
    """E[f^k]: 0 for odd k, (k-1)!! E[s_L^{k/2}] for even k."""
    if k % 2:
        return mp.mpf(0)
    with mp.workdps(DPS):
        return mp.fac2(k - 1) * moment_s(nt, nt.L, k // 2) if k else mp.mpf(1)


def moment(nt: Net, kind: str, l: int | None, k: int):
    """E[X^k] of the law ``kind`` ("Y", "s", "f") at layer l (ignored for "f")."""
    if kind == "Y":
        return moment_Y(nt, l, k)
    if kind == "s":
        return moment_s(nt, l, k)
    if kind == "f":
        return moment_f(nt, k)
    raise ValueError(f"kind must be 'Y', 's' or 'f', got {kind!r}")


# ---------------------------------------------------------------------------------------------
# method B: Mellin / Fourier inversion (zero bias)


def _factors(nt: Net, kind: str, l: int | None):
    """(log c, ((factor, multiplicity), ...)) with X = log c + sum log(factors) given alive.

    Factors: ("relu", n): G = chi^2_K/n given K >= 1; ("lin", n): chi^2_n/n; ("xi2", 0): xi^2.
    Y_l = n_l s_1 a^{l-1} prod_{j<=l} G_j; s_l = s_1 a^{l-1} prod_{j<l} G_j; f^2 = s_L xi^2.
    """
    if nt.sigma_b2 != 0:
        raise ValueError("the Mellin route needs sigma_b2 = 0")
    if kind != "f":
        _check_layer(nt, kind, l)
    with mp.workdps(DPS):
        a = nt.sigma_w2
        if kind == "Y":
            c, layers = nt.widths[l] * s1(nt) * a ** (l - 1), nt.widths[1:l + 1]
        else:
            ll = nt.L if kind == "f" else l
            c, layers = s1(nt) * a ** (ll - 1), nt.widths[1:ll]
        counts: dict = {}
        for n in layers:
            key = ("lin" if nt.sharing else "relu", n)
            counts[key] = counts.get(key, 0) + 1
        if kind == "f":
            counts[("xi2", 0)] = 1
        return mp.log(c), tuple(sorted(counts.items()))


def _factor_weights(factor):
    """((shape a = k/2, weight, scale), ...) of a factor given alive; scale multiplies Gamma(a)."""
    name, n = factor
    if name == "xi2":
        return ((mp.mpf(1) / 2, mp.mpf(1), mp.mpf(2)),)
    if name == "lin":
        return ((mp.mpf(n) / 2, mp.mpf(1), mp.mpf(2) / n),)
    alive = 1 - mp.mpf(2) ** (-n)
    return tuple((mp.mpf(k) / 2, w / alive, mp.mpf(2) / n) for k, w in kweights(n) if k >= 1)


def _factor_cf(factor, w):
    """(E[F^{i w}], bound sum_k w_k |Gamma(k/2 + i w)|/Gamma(k/2)) by the ladder
    r_{k+2} = r_k (k/2 + i w)/(k/2) from r_1 = Gamma(1/2 + i w)/Gamma(1/2), r_2 = Gamma(1 + i w)."""
    iw = mp.mpc(0, w)
    terms = _factor_weights(factor)
    scale = terms[0][2]
    shapes = [t[0] for t in terms]
    ratio = {}
    for start in (mp.mpf(1) / 2, mp.mpf(1)):
        if not any(mp.isint(s - start) and s >= start for s in shapes):
            continue
        # start the ladder at the smallest needed shape of this parity
        s0 = min(s for s in shapes if mp.isint(s - start) and s >= start)
        r = mp.gamma(s0 + iw) / mp.gamma(s0)
        s = s0
        top = max(shapes)
        while s <= top:
            ratio[s] = r
            r = r * (s + iw) / s
            s += 1
    value = mp.fsum(wt * ratio[s] for s, wt, _ in terms) * mp.expj(w * mp.log(scale))
    bound = mp.fsum(wt * abs(ratio[s]) for s, wt, _ in terms)
    return value, bound


def _factor_mean_log(factor):
    return mp.fsum(wt * (mp.digamma(s) + mp.log(sc)) for s, wt, sc in _factor_weights(factor))


def _factor_mellin(factor, t):
    """E[F^t] for real t > -min shape."""
    return mp.fsum(wt * sc ** t * mp.gamma(s + t) / mp.gamma(s) for s, wt, sc in _factor_weights(factor))


class MellinLaw:
    """Law of X = log c + sum_f mult_f log F (given alive), inverted by the trapezoid rule.

    ``pdf_x``/``cdf_x`` are the density and CDF of X; ``window`` the interval [lo, hi] outside which
    the Chernoff bound leaves < ``MELLIN_EPS`` of the mass; evaluation points outside it widen it.
    """

    def __init__(self, logc, factors):
        self.logc = logc
        self.factors = factors
        with mp.workdps(MELLIN_DPS):
            self.mean = logc + mp.fsum(m * _factor_mean_log(f) for f, m in factors)
            self.tmin = min(min(s for s, _, _ in _factor_weights(f)) for f, _ in factors)
            lo, hi = self._chernoff()
        self._build(lo, hi)

    def log_mellin(self, t):
        """log E[e^{t X}] (real t > -min shape)."""
        return t * self.logc + mp.fsum(m * mp.log(_factor_mellin(f, t)) for f, m in self.factors)

    def _chernoff(self):
        log_eps = mp.log(MELLIN_EPS)
        lows = [(log_eps - self.log_mellin(-t)) / t for t in (self.tmin * mp.mpf(u) / 20 for u in range(1, 20))]
        highs = [(self.log_mellin(t) - log_eps) / t for t in (mp.mpf(2) ** u for u in range(-3, 8))]
        return max(lows), min(highs)

    def _build(self, lo, hi):
        with mp.workdps(MELLIN_DPS):
            self.lo, self.hi = mp.mpf(lo), mp.mpf(hi)
            self.eta = 2 * mp.pi / (mp.mpf("1.05") * (self.hi - self.lo))
            self.phis = []
            k = 0
            while True:
                k += 1
                w = k * self.eta
                value, bound = mp.expj(w * self.logc), mp.mpf(1)
                for f, m in self.factors:
                    v, bnd = _factor_cf(f, w)
                    value *= v ** m
                    bound *= bnd ** m
                self.phis.append(value)
                if bound < MELLIN_EPS * self.eta or k > 200000:
                    break
        self.n_terms = len(self.phis)

    def _ensure(self, x):
        if not self.lo <= x <= self.hi:
            span = self.hi - self.lo
            self._build(min(self.lo, x - span / 10), max(self.hi, x + span / 10))

    def _sums(self, x):
        self._ensure(x)
        e = mp.expj(-self.eta * x)
        z = mp.mpc(1)
        cos_sum = mp.mpf(0)
        sin_sum = mp.mpf(0)
        for k, phi in enumerate(self.phis, start=1):
            z *= e
            term = phi * z
            cos_sum += term.real
            sin_sum += term.imag / k
        return cos_sum, sin_sum

    def pdf_x(self, x):
        with mp.workdps(MELLIN_DPS):
            x = mp.mpf(x)
            c, _ = self._sums(x)
            return self.eta / mp.pi * (mp.mpf(1) / 2 + c)

    def cdf_x(self, x):
        with mp.workdps(MELLIN_DPS):
            x = mp.mpf(x)
            _, s = self._sums(x)
            return mp.mpf(1) / 2 - self.eta * (self.mean - x) / (2 * mp.pi) - s / mp.pi


@functools.lru_cache(maxsize=None)
def _mellin_law(logc_str: str, factors) -> MellinLaw:
    with mp.workdps(MELLIN_DPS):
        return MellinLaw(mp.mpf(logc_str), factors)


def mellin(nt: Net, kind: str, l: int | None = None) -> MellinLaw:
    """The :class:`MellinLaw` of log Y_l, log s_l (l >= 2) or log f^2, given alive (zero bias)."""
    if kind == "s" and l == 1:
        raise ValueError("s_1 is a point mass")
    logc, factors = _factors(nt, kind, l)
    return _mellin_law(mp.nstr(logc, DPS), factors)


def mellin_pdf(nt: Net, kind: str, l, v):
    """Density (atom excluded) at v of Y_l, s_l (v > 0) or f (v != 0), by Mellin inversion."""
    law = mellin(nt, kind, l)
    _, d = atom(nt, kind, l)
    with mp.workdps(MELLIN_DPS):
        v = mp.mpf(v)
        if kind == "f":
            if v == 0:
                return mp.inf
            return (1 - d) * law.pdf_x(2 * mp.log(abs(v))) / abs(v)
        if v <= 0:
            return mp.mpf(0)
        return (1 - d) * law.pdf_x(mp.log(v)) / v


def mellin_cdf(nt: Net, kind: str, l, v):
    """P(X <= v), atoms included, by Gil-Pelaez inversion."""
    law = mellin(nt, kind, l)
    _, d = atom(nt, kind, l)
    with mp.workdps(MELLIN_DPS):
        v = mp.mpf(v)
        if kind == "f":
            if v == 0:
                return (1 - d) / 2 + d
            g = law.cdf_x(2 * mp.log(abs(v)))  # P(|f| <= |v| | alive)
            return d + (1 - d) * (1 + g) / 2 if v > 0 else (1 - d) * (1 - g) / 2
        if v < 0:
            return mp.mpf(0)
        if v == 0:
            return d
        return d + (1 - d) * law.cdf_x(mp.log(v))


# ---------------------------------------------------------------------------------------------
# method C: Meijer-G sums (zero bias, tiny nets)


def _patterns(nt: Net, kind: str, l):
    """{sorted shapes: weight} and the scale D with X = D prod Gamma(shape) for each pattern."""
    if nt.sigma_b2 != 0:
        raise ValueError("the Meijer-G route needs sigma_b2 = 0")
    with mp.workdps(DPS):
        a = nt.sigma_w2
        if kind == "Y":
            _check_layer(nt, kind, l)
            layers, scale = nt.widths[1:l + 1], nt.widths[l] * s1(nt) * a ** (l - 1)
        elif kind == "s":
            _check_layer(nt, kind, l)
            if l == 1:
                raise ValueError("s_1 is a point mass")
            layers, scale = nt.widths[1:l], s1(nt) * a ** (l - 1)
        elif kind == "f":
            layers, scale = nt.widths[1:nt.L], 2 * s1(nt) * a ** (nt.L - 1)
        else:
            raise ValueError(f"kind must be 'Y', 's' or 'f', got {kind!r}")
        for n in layers:
            scale *= mp.mpf(2) / n
        groups: dict = {}
        choices = [[(k, w) for k, w in kweights(n, nt.sharing) if k >= 1] for n in layers]
        for combo in itertools.product(*choices):
            shapes = tuple(sorted([mp.mpf(k) / 2 for k, _ in combo] + ([mp.mpf(1) / 2] if kind == "f" else [])))
            weight = mp.fprod(w for _, w in combo)
            groups[shapes] = groups.get(shapes, 0) + weight
        return groups, scale


def _gamma_product_pdf(shapes, u):
    return mp.meijerg([[], []], [[s - 1 for s in shapes], []], u) / mp.fprod(mp.gamma(s) for s in shapes)


def _gamma_product_cdf(shapes, u):
    return u * mp.meijerg([[0], []], [[s - 1 for s in shapes], [-1]], u) / mp.fprod(mp.gamma(s) for s in shapes)


def meijer_pdf(nt: Net, kind: str, l, v):
    """Density (atom excluded) at v of Y_l, s_l or f by the Meijer-G pattern sum (zero bias)."""
    groups, scale = _patterns(nt, kind, l)
    with mp.workdps(MEIJER_DPS):
        v = mp.mpf(v)
        if kind == "f":
            u = v * v / scale
            return mp.fsum(w * _gamma_product_pdf(sh, u) for sh, w in groups.items()) * abs(v) / scale
        if v <= 0:
            return mp.mpf(0)
        u = v / scale
        return mp.fsum(w * _gamma_product_pdf(sh, u) for sh, w in groups.items()) / scale


def meijer_cdf(nt: Net, kind: str, l, v):
    """P(X <= v), atoms included, by the Meijer-G pattern sum (zero bias)."""
    groups, scale = _patterns(nt, kind, l)
    _, d = atom(nt, kind, l)
    with mp.workdps(MEIJER_DPS):
        v = mp.mpf(v)
        if kind == "f":
            if v == 0:
                return (1 - d) / 2 + d
            g = mp.fsum(w * _gamma_product_cdf(sh, v * v / scale) for sh, w in groups.items())  # P(|f|<=|v|)
            return d + ((1 - d) + g) / 2 if v > 0 else ((1 - d) - g) / 2
        if v <= 0:
            return d if v == 0 else mp.mpf(0)
        return d + mp.fsum(w * _gamma_product_cdf(sh, v / scale) for sh, w in groups.items())


# ---------------------------------------------------------------------------------------------
# direct convolution (any bias, tiny nets)


def _gamma_expect(shape, h):
    """E[h(gamma)], gamma ~ Gamma(shape, 1), shape = k/2, by tanh-sinh quadrature in u = sqrt(gamma).

    The substitution gives the integrand 2 u^(k-1) e^(-u^2) h(u^2)/Gamma(k/2): smooth at u = 0 (k - 1
    is an integer >= 0), so the quadrature keeps its full accuracy (in gamma the weight is singular
    for k = 1 and tanh-sinh then loses ~7 digits on a constant h).
    """
    r = mp.sqrt(shape)
    points = [0, r / 8, r / 3, r, mp.sqrt(4 * shape + 8), mp.inf]
    power = 2 * shape - 1
    return 2 * mp.quad(lambda u: u ** power * mp.exp(-u * u) * h(u * u), points) / mp.gamma(shape)


def conv_expect(nt: Net, l: int, h):
    """E[h(s_l)] by nested quadrature over the chain s_{j+1} = b + a s_j chi^2_{K_j}/n_j."""
    _check_layer(nt, "s", l)
    if l == 1:
        return h(s1(nt))
    n = nt.widths[l - 1]
    a, b = nt.sigma_w2, nt.sigma_b2
    total = mp.mpf(0)
    for k, w in kweights(n, nt.sharing):
        if k == 0:
            total += w * h(b)
            continue
        shape = mp.mpf(k) / 2
        c = 2 * a / n
        total += w * conv_expect(nt, l - 1, lambda s, shape=shape, c=c: _gamma_expect(shape, lambda g: h(b + c * s * g)))
    return total


def _chi2_mixture_pdf(n, sharing, y, s):
    """Density at y > 0 of s chi^2_K, K ~ Bin(n, 1/2) (continuous part)."""
    if s == 0:
        return mp.mpf(0)
    out = mp.mpf(0)
    for k, w in kweights(n, sharing):
        if k >= 1:
            half = mp.mpf(k) / 2
            out += w * mp.exp((half - 1) * mp.log(y / (2 * s)) - y / (2 * s) - mp.loggamma(half)) / (2 * s)
    return out


def _chi2_mixture_cdf(n, sharing, y, s):
    """P(s chi^2_K <= y), atom at K = 0 included."""
    out = mp.mpf(0)
    for k, w in kweights(n, sharing):
        if k == 0 or s == 0:
            out += w
        else:
            out += w * mp.gammainc(mp.mpf(k) / 2, 0, y / (2 * s), regularized=True)
    return out


def conv_pdf(nt: Net, kind: str, l, v):
    """Density (atoms excluded) of Y_l, s_l (l >= 2) or f at v by direct convolution, CONV_DPS digits."""
    v = _mpf(v)  # before lowering the precision: v is compared with sigma_b^2 exactly
    with mp.workdps(CONV_DPS):
        a, b = nt.sigma_w2, nt.sigma_b2
        if kind == "Y":
            _check_layer(nt, kind, l)
            if v <= 0:
                return mp.mpf(0)
            return conv_expect(nt, l, lambda s: _chi2_mixture_pdf(nt.widths[l], nt.sharing, v, s))
        if kind == "s":
            _check_layer(nt, kind, l)
            if l == 1 or v <= b:
                return mp.mpf(0)
            n = nt.widths[l - 1]
            return conv_pdf(nt, "Y", l - 1, (v - b) * n / a) * n / a
        if kind == "f":
            zero_mass = atom(nt, "f")[1]
            dens = conv_expect(nt, nt.L, lambda s: mp.npdf(v, 0, mp.sqrt(s)) if s > 0 else mp.mpf(0))
            return dens if zero_mass == 0 or v != 0 else mp.inf
    raise ValueError(f"kind must be 'Y', 's' or 'f', got {kind!r}")


def conv_cdf(nt: Net, kind: str, l, v):
    """P(X <= v), atoms included, by direct convolution (CONV_DPS digits)."""
    v = _mpf(v)  # before lowering the precision: v is compared with sigma_b^2 exactly
    with mp.workdps(CONV_DPS):
        a, b = nt.sigma_w2, nt.sigma_b2
        if kind == "Y":
            _check_layer(nt, kind, l)
            if v < 0:
                return mp.mpf(0)
            return conv_expect(nt, l, lambda s: _chi2_mixture_cdf(nt.widths[l], nt.sharing, v, s))
        if kind == "s":
            _check_layer(nt, kind, l)
            if l == 1:
                return mp.mpf(1) if v >= s1(nt) else mp.mpf(0)
            if v < b:
                return mp.mpf(0)
            n = nt.widths[l - 1]
            return conv_cdf(nt, "Y", l - 1, (v - b) * n / a)
        if kind == "f":
            return conv_expect(nt, nt.L, lambda s: mp.ncdf(v, 0, mp.sqrt(s)) if s > 0 else (mp.mpf(1) if v >= 0 else mp.mpf(0)))
    raise ValueError(f"kind must be 'Y', 's' or 'f', got {kind!r}")
