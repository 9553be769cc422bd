"""Verdicts on initializations: is THIS network critical / isometric for MY activation?

:func:`assess` (re-exported as ``meanfield.init.assess``) takes a recipe name, a list of weight arrays
(numpy, PyTorch, JAX: anything with ``__array__`` or DLPack) with optional biases, or a
``torch.nn.Module``, and reports side by side:

- theory (infinite width): the effective sigma_w^2 = fan_in Var(W_ij) of a hidden layer, the fixed
  point q*, chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2], the phase and the dynamical-isometry report of
  :func:`meanfield.isometry` (free probability, Pennington et al. 2017/2018) for the weight ensemble;
- measurement: per layer sigma_w^2 and sigma_b^2 with their standard errors, the weight ensemble and
  the orthogonality defect (:mod:`meanfield.init.statistics`), and the singular values of the actual
  input-output Jacobian at an input (the product D^L W^L ... D^1 W^1 of the matrices, or torch
  autograd for a module), judged by the four criteria of :func:`meanfield.isometry`.

**The criticality verdict is statistical.**  A recipe's sigma_w^2 is exact: critical means
|chi_1 - 1| <= 1e-9 (:data:`meanfield.maps.CRITICAL_TOLERANCE`).  Measured weights carry sampling
noise: sigma_w^2 and sigma_b^2 are estimated with standard errors SE_w, SE_b (for Gaussian entries
SE_w = sigma_w^2 sqrt(2 / (K n)) for K hidden layers of n = fan_in fan_out weights), and chi_1 with

    band = sqrt(D_w^2 + D_b^2),   D_w = max over +-k SE_w of |chi_1(sigma_w^2 +- k SE_w) - chi_1|

(D_b likewise; finite differences of chi_1 at q* over k standard errors, k = ``band_se``, default 3:
the linear propagation k SE(chi_1) where chi_1 is smooth, and still right across a kink such as the
degenerate q* = 0 of tanh at sigma_b^2 = 0).  SE(chi_1) = band / k.  The network is **critical** when
|chi_1 - 1| <= max(band, 1e-9) and a finite fixed point exists within the k-SE box (a relu net with
sigma_w^2 = 2.0003 +- 0.003 is critical although q diverges at the point estimate; He-relu with exact
sigma_b^2 > 0 is "divergent"); otherwise "divergent" where q has no fixed point, else "ordered"
(chi_1 < 1) or "chaotic".  The notes say how many standard errors chi_1 is from 1 and which sigma_w^2
would be critical.

Theory for given weights uses the pooled hidden-layer estimates (layers 2..L; layer 1 sets
q^1 = sigma_w^2 q0 + sigma_b^2); per-layer differences beyond sampling noise are reported.  Matrices
that are neither iid nor Haar (looks-linear, EOI, IDInit, structured weights) are outside the
free-probability theory: the measured Jacobian is the ground truth and ``isometric`` the measured
verdict.  Looks-linear is judged against its exact theory: the physical ReLU net computes the linear
template network W0^L ... W0^1 (relu(u) - relu(-u) = u), whose output layer is linear, so its Jacobian
omits D^L (Balduzzi et al. 2017; Burkholz & Dubatovka 2019).  A torch module that is not a chain of
Linear/Conv layers and known activations (:func:`meanfield.init.torch_models.module_chain`) gets the
measurement only (phase "unknown"); convolutional chains get the mean-field verdict (Xiao et al. 2018)
but no spectrum theory.

Inputs: with ``q0`` (or an input) the spectrum theory follows the network's trajectory from q^1 =
sigma_w,1^2 q0 + sigma_b^2 (:func:`meanfield.isometry` with ``q0``: D_l at q^l, docs/conventions.md §2);
the phase (chi_1 at the fixed point reached from q^1) describes the deep layers.  Without them the
spectrum is that of inputs prepared at q* (the deep limit), or, where q* is degenerate, of unit inputs.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..activations import activation
from ..errors import DivergentFixedPointError, ParameterError, SigpropError
from ..maps import CRITICAL_TOLERANCE, chi1, fixed_point
from ..simulate.networks import single_threaded_blas
from ..spectra.isometry import BAND_TOLERANCE, IsometryReport, isometry
from ..validation import RNGLike, generator
from . import torch_models
from .arrays import bias_list, input_batch, weight_list
from .fans import _scalar
from .measurement import MeasuredNetwork, default_thresholds, measure, network_summary, prepared_input
from .measurement import sample_network_biases, summarize
from .recipes import MEASURED_RECIPES, RECIPES, NetworkSpec, recipe_network
from .report import format_assessment, jsonable
from .scaling import critical_sigma_w2
from .statistics import homogeneity_pvalue, layer_statistics, pooled

__all__ = ["RECIPES", "MEASURED_RECIPES", "assess", "InitAssessment", "MeasuredNetwork", "BAND_SE"]

#: Default half-width of the criticality band, in standard errors of chi_1.
BAND_SE = 3.0


@dataclass(frozen=True)
class InitAssessment:
    """The verdict of :func:`assess` (see the module docstring).

    recipe, params : the recipe and its parameters ("weights" for arrays, "module" for a torch module).
    activation, sigma_b2, depth, widths : the network (sigma_b2: exact, or the pooled measurement).
    sigma_w2 : effective sigma_w^2 = fan_in Var(W_ij) of a hidden layer (recipe formula; measured for
        given weights or modules).  sigma_w2_se, sigma_b2_se : their standard errors (0: exact).
    q0 : |x^0|^2 / n_0 of the input the theory starts from (None: q^1 = 1, the default of
        :func:`meanfield.fixed_point`, and the measured input prepared at q*).
    ensemble : weight ensemble of the theory: "gaussian", "orthogonal", "linear-orthogonal" /
        "linear-gaussian" (looks-linear: the linear template net), "structured" (no spectrum theory) or
        "none" (no theory at all).
    theory_exact : whether the theory describes these matrices' distribution (False: the measured
        values are the ground truth).
    q_star, chi1, phase : mean-field values (q_star inf where q diverges; chi1 NaN where it is undefined;
        phase "ordered", "critical", "chaotic", "divergent", or "unknown" without a theory).
    chi1_se, critical_band, band_se : SE(chi_1), the band half-width max(band_se SE(chi_1), 1e-9) and k.
    critical : phase == "critical".  critical_sigma_w2 : the edge of chaos at sigma_b2 (NaN if none).
    isometry : :class:`meanfield.IsometryReport` of the theory ensemble, or None.
    measured : :class:`MeasuredNetwork` or None (``monte_carlo=False``).
    isometric : the verdict: theory for iid/Haar recipes, measured otherwise (None if unavailable).
    notes : sentences qualifying the verdict.
    """

    recipe: str
    params: dict
    activation: str
    sigma_b2: float
    depth: int
    widths: tuple
    sigma_w2: float
    ensemble: str
    theory_exact: bool
    q_star: float
    chi1: float
    phase: str
    critical: bool
    critical_sigma_w2: float
    isometry: IsometryReport | None
    measured: MeasuredNetwork | None
    isometric: bool | None
    notes: tuple = field(default_factory=tuple)
    sigma_w2_se: float = 0.0
    sigma_b2_se: float = 0.0
    q0: float | None = None
    chi1_se: float = 0.0
    critical_band: float = CRITICAL_TOLERANCE
    band_se: float = BAND_SE

    def __str__(self) -> str:
        return format_assessment(self)

    def to_dict(self, undefined: str = "string") -> dict:
        """JSON-ready dict.  ``undefined="string"``: non-finite numbers as "inf", "-inf", "nan";
        ``"null"``: as null, with the reasons under the key "undefined" (field path -> why)."""
        out = asdict(self)
        if self.isometry is not None:
            out["isometry"] = self.isometry.to_dict()
            out["isometry"].pop("verdict", None)
        return jsonable(out, undefined)


@dataclass
class _Theory:
    q_star: float
    chi1: float
    phase: str
    critical_sigma_w2: float
    isometry: IsometryReport | None
    chi1_se: float
    band: float
    notes: list


# ----------------------------------------------------------------------------------------------
# the theory: every call of the public mean-field and spectrum functions goes through _theory
# ----------------------------------------------------------------------------------------------
def _theory(act, sw2, sb2, q1: float | None, spectrum: tuple | None = None):
    """(q*, chi_1, isometry report or None, notes) at (sigma_w^2, sigma_b^2): numbers or equal-length arrays.

    q* is the fixed point reached from q^1 (1 when None); where q diverges, q* = inf and chi_1 is NaN,
    except for activations with a scale-free phi' (relu, leaky relu, linear), whose chi_1 = sigma_w^2 D
    does not depend on q.  ``spectrum = (act, sigma_w2, sigma_b2, depth, weights, tolerance, q0)`` also asks
    for :func:`meanfield.isometry` (along the trajectory from the input's q0, or at q* when q0 is None).
    """
    start = 1.0 if q1 is None else q1
    sw2, sb2 = np.atleast_1d(np.asarray(sw2, dtype=float)), np.atleast_1d(np.asarray(sb2, dtype=float))
    try:
        q = np.atleast_1d(fixed_point(act, sw2, sb2, q0=start)).astype(float)
    except DivergentFixedPointError:  # one point diverges: find which
        q = np.array([_fixed_point_or_inf(act, w, b, start) for w, b in zip(sw2, sb2)])
    finite = np.isfinite(q)
    c = np.full(q.shape, np.nan)
    if np.any(finite):
        c[finite] = chi1(act, sw2[finite], sb2[finite], q=q[finite])
    if act.scale_free_derivative and not np.all(finite):
        c[~finite] = chi1(act, sw2[~finite], sb2[~finite], q=start)
    report, notes = None, []
    if spectrum is not None:
        s_act, s_w2, s_b2, depth, weights, tol, s_q0 = spectrum
        try:
            report = isometry(s_act, s_w2, s_b2, depth, weights, tolerance=tol, q0=s_q0)
        except SigpropError as exc:
            notes.append(f"no spectrum theory: {exc}")
    if q.size == 1:
        return float(q[0]), float(c[0]), report, notes
    return q, c, report, notes


def _fixed_point_or_inf(act, sw2: float, sb2: float, start: float) -> float:
    try:
        return float(fixed_point(act, sw2, sb2, q0=start))
    except DivergentFixedPointError:
        return math.inf


def _point(act, net: NetworkSpec, q1, k: float):
    """(q*, chi_1, band, finite q* somewhere in the k-SE box) at the estimates.

    The band is sqrt(D_w^2 + D_b^2), D = the largest |chi_1(estimate +- k SE) - chi_1| over the two signs
    (finite differences of chi_1 over +-k SE; points where chi_1 is undefined are skipped); the "low
    corner" (sigma_w2 - k SE_w, sigma_b2 - k SE_b) has the smallest q of the box (the variance map grows
    with both), so a finite q* exists in the box iff it exists there.
    """
    sw2, sb2, se_w, se_b = net.sigma_w2, net.sigma_b2, net.sigma_w2_se, net.sigma_b2_se
    dw, db = k * se_w, k * se_b
    w = np.maximum([sw2, sw2 + dw, sw2 - dw, sw2, sw2, sw2 - dw], 0.0)
    b = np.maximum([sb2, sb2, sb2, sb2 + db, sb2 - db, sb2 - db], 0.0)
    q, c, _, _ = _theory(act, w, b, q1)
    with np.errstate(invalid="ignore"):
        diff = np.where(np.isfinite(c[1:5]), np.abs(c[1:5] - c[0]), 0.0) if math.isfinite(c[0]) else np.zeros(4)
    band = math.hypot(max(diff[0], diff[1]) if se_w > 0 else 0.0, max(diff[2], diff[3]) if se_b > 0 else 0.0)
    reachable = (se_w > 0 or se_b > 0) and bool(np.isfinite(q[5]))
    return float(q[0]), float(c[0]), band, reachable


def _judge(act, net: NetworkSpec, q1, k: float, tol: float) -> _Theory:
    """Mean field, the statistical criticality verdict, the edge of chaos and the spectrum report."""
    if net.ensemble == "none":
        return _Theory(math.nan, math.nan, "unknown", math.nan, None, math.nan, math.nan, [])
    sw2, sb2 = net.sigma_w2, net.sigma_b2
    q, c, band, reachable = _point(act, net, q1, k)
    notes = []
    width = max(band, CRITICAL_TOLERANCE)
    try:
        crit_sw2 = float(critical_sigma_w2(act, sb2))
    except SigpropError:
        crit_sw2 = math.nan
    if math.isfinite(c) and abs(c - 1) <= width and (math.isfinite(q) or reachable):
        phase = "critical"
        if not math.isfinite(q):
            notes.append(
                f"q has no fixed point at the point estimate sigma_w2 = {sw2:.6g}, but the edge of chaos lies "
                f"within {k:g} standard errors (SE {net.sigma_w2_se:.2g}): consistent with critical"
            )
    elif not math.isfinite(q):
        phase, c = "divergent", math.nan
        notes.append(f"q grows without bound at sigma_w2 = {sw2:.6g}, sigma_b2 = {sb2:g}: no fixed point, no chi_1")
    else:
        phase = "ordered" if c < 1 else "chaotic"
    se = band / k if k > 0 else 0.0
    notes.extend(_band_notes(phase, c, se, band, k, net, crit_sw2))
    report = None
    if net.ensemble != "structured" and net.spectrum_theory:
        if net.ensemble.startswith("linear"):
            L = net.depth
            args = ("linear", sw2 / 2.0 if L > 1 else sw2, 0.0, L, net.ensemble.split("-")[1], tol, None)
        else:
            # the trajectory from q^1 (layer 1's own sigma_w^2 sets it; the pooled sigma_w^2 the rest)
            q0 = None if q1 is None or not sw2 > 0 else max(q1 - sb2, 0.0) / sw2
            args = (act, sw2, sb2, net.depth, net.ensemble, tol, q0)
        _, _, report, more = _theory(act, sw2, sb2, q1, spectrum=args)
        notes.extend(more)
    return _Theory(q, c, phase, crit_sw2, report, se, width, notes)


def _band_notes(phase, chi, se, band, k, net: NetworkSpec, crit_sw2) -> list[str]:
    if net.sigma_w2_se == 0 and net.sigma_b2_se == 0:
        return []
    out = [
        f"criticality band: |chi_1 - 1| <= {band:.3g} = {k:g} SE(chi_1), SE(chi_1) = {se:.3g} propagated from "
        f"SE(sigma_w2) = {net.sigma_w2_se:.3g} and SE(sigma_b2) = {net.sigma_b2_se:.3g} by finite differences of "
        f"chi_1 at q* over +-{k:g} SE"
    ]
    if phase in ("ordered", "chaotic") and se > 0:
        out.append(
            f"chi_1 = {chi:.6g} +- {se:.2g}: {phase}, {abs(chi - 1) / se:.3g} standard errors from 1; the edge of "
            f"chaos at sigma_b2 = {net.sigma_b2:.4g} is sigma_w2 = {crit_sw2:.6g}, measured {net.sigma_w2:.6g} "
            f"+- {net.sigma_w2_se:.2g} ({net.sigma_w2 / crit_sw2:.4g} times it)"
            if math.isfinite(crit_sw2) else
            f"chi_1 = {chi:.6g} +- {se:.2g}: {phase}; there is no edge of chaos at sigma_b2 = {net.sigma_b2:.4g}"
        )
    return out


# ----------------------------------------------------------------------------------------------
# the network: a recipe, given arrays, or a torch module
# ----------------------------------------------------------------------------------------------
def _from_layers(recipe, params, widths, layers, weights, biases, notes) -> NetworkSpec:
    """A measured network: pooled hidden-layer estimates, the theory's ensemble, homogeneity."""
    hidden = layers[1:] or layers
    sw2, sw2_se, sb2, sb2_se = pooled(hidden)
    kinds = {s.ensemble for s in layers}
    if kinds <= {"iid-gaussian", "iid"}:
        ensemble = "gaussian"
    elif kinds <= {"orthogonal", "sparse-orthogonal"}:
        ensemble = "orthogonal"
    else:
        ensemble = "structured"
    net = NetworkSpec(
        recipe, params, widths, sw2, ensemble, False, weights, sigma_b2=sb2, sigma_w2_se=sw2_se, sigma_b2_se=sb2_se,
        first_sigma_w2=layers[0].sigma_w2, biases=biases, layers=tuple(layers), notes=list(notes),
    )
    gaussian_se = math.sqrt(sum(2.0 * s.sigma_w2**2 / s.n_weights for s in hidden)) / len(hidden)
    net.notes.append(
        "sigma_w2 and sigma_b2 measured: equal-weight means over "
        f"{'layers 2..' + str(len(layers)) if len(layers) > 1 else 'layer 1'} (K = {len(hidden)}); SE of a layer's "
        "sigma_w2 = fan_in sqrt((m4 - m2^2) / n), n = fan_in fan_out weights (iid Gaussian entries: sigma_w2 "
        f"sqrt(2/n), pooled sqrt(sum SE_l^2) / K = {gaussian_se:.3g}); the theory assumes "
        f"{'Haar orthogonal' if ensemble == 'orthogonal' else 'iid Gaussian' if ensemble == 'gaussian' else 'no ensemble (structured weights)'}"
        " weights of that scale; the measured Jacobian singular values are the ground truth"
    )
    p = homogeneity_pvalue(hidden)
    if p < 1e-3:
        net.notes.append(
            f"the layers' sigma_w2 differ beyond sampling noise (chi^2 homogeneity p = {p:.2g}): "
            + ", ".join(f"layer {s.index}: {s.sigma_w2:.4g}" for s in layers)
        )
    if any(s.ensemble == "structured" for s in layers):
        net.notes.append("structured layers (neither iid nor orthogonal): " + ", ".join(
            str(s.index) for s in layers if s.ensemble == "structured"))
    return net


def _given_network(weights, biases, sb2_given, monte_carlo, params) -> NetworkSpec:
    if params:
        raise ParameterError(f"recipe parameters ({', '.join(sorted(params))}) only apply to a recipe name")
    if not monte_carlo:
        raise ParameterError("given weight matrices are always measured: monte_carlo must be True")
    weights, dtypes = weight_list(weights)
    biases = bias_list(biases, weights)
    notes = []
    if all(b is None for b in biases):
        if sb2_given is None:
            notes.append("no biases given: sigma_b2 = 0 (pass biases=[b1, ..., bL] to use them)")
        else:
            biases = None  # drawn N(0, sigma_b2) for the measurement
    elif sb2_given is not None:
        raise ParameterError("give the biases or sigma_b2, not both (sigma_b2 draws biases for bare weights)")
    layers = [layer_statistics(i, f"W{i}", w, d, None if biases is None else biases[i - 1])
              for i, (w, d) in enumerate(zip(weights, dtypes), start=1)]
    widths = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    net = _from_layers("weights", {}, widths, layers, weights, biases, notes)
    if biases is None:
        net.sigma_b2, net.sigma_b2_se = sb2_given, 0.0
    return net


def _module_network(module, act, sb2_given) -> tuple[NetworkSpec, object]:
    if sb2_given is not None:
        raise ParameterError("a torch module's biases are read from it: sigma_b2 must not be given")
    chain = torch_models.module_chain(module)
    names, weights, dtypes, biases = torch_models.layer_arrays(chain)
    layers = [layer_statistics(i, n, w, d, b) for i, (n, w, d, b) in enumerate(zip(names, weights, dtypes, biases), start=1)]
    notes = list(chain.notes)
    params = {"class": type(module).__name__}
    if not chain.is_chain:
        notes.append("no theory, only the measurement of the module's Jacobian: " + "; ".join(chain.reasons))
        if act is not None:
            notes.append("the given act is not used: the module is not a chain the theory describes")
        net = NetworkSpec("module", params, [], math.nan, "none", False, None, layers=tuple(layers), notes=notes,
                          module=module, chain=chain)
        return net, None
    chain_act = chain.act
    if act is not None and (act.name, dict(act.params)) != (chain_act.name, dict(chain_act.params)):
        raise ParameterError(f"act={act.name!r} disagrees with the module's activation {chain.act_text}")
    notes.append(f"activation read from the module: {chain.act_text}")
    widths = [weights[0].shape[1]] + [w.shape[0] for w in weights]  # channels for convolutions
    net = _from_layers("module", params, widths, layers, weights, biases, notes)
    net.module, net.chain = module, chain
    net.linear_output, net.spectrum_theory = chain.linear_output, not chain.convolutional
    if chain.convolutional:
        net.notes.append("convolutional layers: mean field with fan_in = C_in k (Xiao et al. 2018); the dense "
                         "spectrum theory does not apply, the Jacobian is measured")
    if chain.linear_output and len(weights) > 1:
        net.notes.append("the output layer has no activation: the measured chi_1 is (E[lambda] / sigma_w2^L)^(1/(L-1)); "
                         "the theory's spectrum includes D^L, the module's Jacobian does not")
    return net, chain_act


# ----------------------------------------------------------------------------------------------
# inputs and the measurement
# ----------------------------------------------------------------------------------------------
def _q0(q0, x_q0):
    if q0 is None:
        return x_q0
    q0 = _scalar("q0", q0, positive=True)
    if x_q0 is not None and not math.isclose(q0, x_q0, rel_tol=1e-6):
        raise ParameterError(f"q0 = {q0!r} but the input has |x|^2/n_0 = {x_q0:.8g}; give one of them")
    return q0


def _measure_module(act, net: NetworkSpec, module, x, seed, tol, thresholds) -> MeasuredNetwork:
    s, n_out, n_in, eps = torch_models.module_jacobian(module, x)
    layers = net.layers
    if net.ensemble == "none":
        chi_layers, log_gain = 0, 0.0
    elif net.linear_output and net.depth > 1:
        chi_layers, log_gain = net.depth - 1, math.log(layers[-1].sigma_w2) if layers[-1].sigma_w2 > 0 else 0.0
    else:
        chi_layers, log_gain = net.depth, 0.0
    numbers = summarize(s[None, :], np.zeros(1), n_out, n_in, chi_layers, log_gain, tol, thresholds, eps)
    xs = x.detach().double().cpu().numpy()
    return MeasuredNetwork(
        widths=(n_in, n_out), seed=seed, **network_summary(layers), q0=float(np.mean(xs * xs)),
        n_inputs=int(xs.shape[0]) if xs.ndim > 1 else 1, q_last=math.nan,
        jacobian=f"torch autograd, {str(x.dtype).replace('torch.', '')}", **numbers,
    )


def _measurement(act, net: NetworkSpec, theory: _Theory, q0, x, rng, seed, tol) -> MeasuredNetwork:
    """Biases (drawn where not given), an input, and the measured Jacobian of the network."""
    iso = theory.isometry
    thresholds = tuple(cr.threshold for cr in iso.criteria) if iso is not None else default_thresholds()
    shared = net.recipe == "looks_linear"
    if net.module is not None:
        if x is None:
            x = _first_input(act, net, theory, q0, rng)
        return _measure_module(act, net, net.module, x, seed, tol, thresholds)
    biases = net.biases if net.biases is not None else sample_network_biases(rng, net.weights, net.sigma_b2, shared)
    if x is None:
        x = _first_input(act, net, theory, q0, rng, raw=shared)[None, :]
    layers = net.layers or tuple(
        layer_statistics(i, f"W{i}", w, np.float64, b) for i, (w, b) in enumerate(zip(net.weights, biases), start=1)
    )
    return measure(act, net.weights, biases, x, net.linear_output, seed, tol, thresholds, layers)


def _first_input(act, net: NetworkSpec, theory: _Theory, q0, rng, raw=False):
    """The default input: raw with |x|^2/n_0 = q0 when q0 is given, else x = phi(h^0) that puts h^1 at q*."""
    n0 = net.widths[0] if net.widths else None
    if net.module is not None:
        first = net.chain.layers[0][1] if net.chain is not None and net.chain.layers else None
        if first is None or not hasattr(first, "in_features"):
            raise ParameterError(f"give input= for {type(net.module).__name__}: its input shape cannot be inferred")
        n0 = first.in_features
    q = theory.q_star
    if q0 is not None or net.ensemble == "none":
        x0 = prepared_input(rng, act, n0, 1.0 if q0 is None else q0, raw=True)
    else:
        # scale-free phi' (relu, linear): D does not depend on q, and q* = 0 or inf would be degenerate
        start = q if math.isfinite(q) and (q > 0 or not act.scale_free_derivative) else 1.0
        x0 = prepared_input(rng, act, n0, start, raw=raw)
    return torch_models.default_input(net.module, x0) if net.module is not None else x0


def _input(net: NetworkSpec, value):
    """(the user's input as the measurement takes it, its |x|^2 / n_0) or (None, None)."""
    if value is None:
        return None, None
    if net.module is not None:
        x = torch_models.as_input_tensor(net.module, value)
        xs = x.detach().double().cpu().numpy()
        if not np.any(xs):
            raise ParameterError(f"input of shape {tuple(x.shape)} is zero: its second moment must be > 0")
        return x, float(np.mean(xs * xs))
    x = input_batch(value, net.widths[0])
    return x, float(np.mean(x * x))


@single_threaded_blas
def assess(
    model_or_weights,
    act=None,
    biases=None,
    input=None,  # noqa: A002 - the contract's name
    q0: float | None = None,
    *,
    depth: int | None = None,
    sigma_b2: float | None = None,
    width: int = 256,
    shape=None,
    monte_carlo: bool = True,
    seed: RNGLike = None,
    tolerance: float = BAND_TOLERANCE,
    band_se: float = BAND_SE,
    **params,
) -> InitAssessment:
    """Is this initialization critical / isometric for this activation?  Theory and measurement.

    Parameters
    ----------
    model_or_weights : str, list of arrays, or torch.nn.Module
        A name in :data:`RECIPES` (its parameters as keyword arguments ``**params``, e.g. ``density=0.1``
        for "eoi"); the weight matrices W^1, ..., W^L (fan_out, fan_in) of a network as numpy arrays,
        PyTorch tensors, JAX arrays or anything with ``__array__`` / DLPack; or a ``torch.nn.Module``
        (its Jacobian by autograd; the theory when it is a chain of Linear/Conv layers and one known
        activation, see :mod:`meanfield.init.torch_models`).
    act : activation name, formula or :class:`meanfield.Activation`
        Required for recipes and arrays; read from a torch module (a given one must agree).
    biases : list of arrays or None
        b^1, ..., b^L for given weights (None entries: no bias in that layer).  Without them the biases
        are 0, or drawn N(0, sigma_b2) when ``sigma_b2`` is given.
    input : array or tensor, optional
        The input x^0 at which the Jacobian is measured: (n_0,) or a batch (B, n_0) for arrays, what the
        module takes for a module (the Jacobian of the whole batch map: per-example Jacobians together).
    q0 : float, optional
        |x^0|^2 / n_0 of the input: the theory starts at q^1 = sigma_w^2 q0 + sigma_b^2 and the
        measured network is fed a raw input of that second moment.  Taken from ``input`` when given.
        None (and no input): q^1 = 1 and the measured input is prepared so that h^1 sits at q*.
    depth, width, shape : recipes only: L (default 10; 1 with ``shape``), the width of the square layers
        (default 256), the first layer's (fan_out, fan_in) with square layers after it.
    sigma_b2 : float, optional
        Bias variance of a recipe's network (default 0), or of drawn biases for bare weights.
    monte_carlo : bool
        Recipes: build and measure a real network (always done for looks-linear, EOI, IDInit).
    seed : int, Generator or None
        Seed of what is drawn: a recipe's weights, biases, the input.
    tolerance : float
        Half-width of the band of singular values reported (as :func:`meanfield.isometry`).
    band_se : float
        Half-width of the criticality band in standard errors of chi_1 (default 3).

    Returns
    -------
    InitAssessment
    """
    is_module = torch_models.is_torch_module(model_or_weights)
    if act is None and not is_module:
        raise ParameterError("act is required for a recipe or weight arrays (e.g. act='relu'); it is read from "
                             "a torch module only")
    act = None if act is None else activation(act)
    tol = _scalar("tolerance", tolerance, positive=True)
    if not tol < 1:
        raise ParameterError(f"tolerance must lie in (0, 1), got {tolerance!r}")
    k = _scalar("band_se", band_se)
    if not isinstance(monte_carlo, (bool, np.bool_)):
        raise ParameterError(f"monte_carlo must be True or False, got {monte_carlo!r}")
    sb2 = None if sigma_b2 is None else _scalar("sigma_b2", sigma_b2)
    rng = generator(seed)

    if isinstance(model_or_weights, str):
        if biases is not None:
            raise ParameterError("biases apply to given weights; a recipe draws N(0, sigma_b2) biases")
        net = recipe_network(model_or_weights, act, sb2 or 0.0, depth, width, shape, monte_carlo or input is not None, rng, params)
    elif is_module:
        if biases is not None or params or depth is not None:
            raise ParameterError("a torch module carries its own biases and depth: only act, input, q0, seed, "
                                 "tolerance and band_se apply")
        net, act = _module_network(model_or_weights, act, sb2)
    else:
        if depth is not None:
            raise ParameterError("depth applies to recipes; given weights have their own number of layers")
        net = _given_network(model_or_weights, biases, sb2, monte_carlo, params)
    x, x_q0 = _input(net, input)
    q0 = _q0(q0, x_q0)
    q1 = None if q0 is None or net.first_sigma_w2 is None else net.first_sigma_w2 * q0 + net.sigma_b2
    theory = _judge(act, net, q1 if q1 is None or q1 > 0 else None, k, tol)
    measured = None
    if net.weights is not None or net.module is not None:
        measured = _measurement(act, net, theory, q0, x, rng, seed, tol)
    return _verdict(act, net, theory, measured, q0, k)


def _verdict(act, net: NetworkSpec, theory: _Theory, measured, q0, k) -> InitAssessment:
    """The theory's verdict where it is exact for these matrices, else the measured one."""
    notes = net.notes + theory.notes
    if net.theory_exact and theory.isometry is not None:
        isometric = theory.isometry.isometric
    elif measured is not None:
        isometric = measured.isometric
    else:
        isometric = None
        notes.append("no verdict on isometry without a measurement (monte_carlo=True)")
    widths = tuple(net.widths) if net.widths else (measured.widths if measured is not None else ())
    return InitAssessment(
        recipe=net.recipe, params=net.params, activation=act.name if act is not None else "unknown",
        sigma_b2=net.sigma_b2, depth=net.depth if net.widths else len(net.layers), widths=widths,
        sigma_w2=net.sigma_w2, ensemble=net.ensemble, theory_exact=net.theory_exact, q_star=theory.q_star,
        chi1=theory.chi1, phase=theory.phase, critical=theory.phase == "critical",
        critical_sigma_w2=theory.critical_sigma_w2, isometry=theory.isometry, measured=measured,
        isometric=isometric, notes=tuple(notes), sigma_w2_se=net.sigma_w2_se, sigma_b2_se=net.sigma_b2_se,
        q0=q0, chi1_se=theory.chi1_se, critical_band=theory.band, band_se=k,
    )
