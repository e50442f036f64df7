"""BG/NBD and Gamma-Gamma customer-value models, vectorised with numpy/scipy.

BG/NBD: Fader, Hardie & Lee (2005), "Counting Your Customers the Easy Way: An Alternative to
the Pareto/NBD Model", Marketing Science 24(2). Gamma-Gamma: Fader, Hardie & Lee (2005),
"RFM and CLV: Using Iso-Value Curves for Customer Base Analysis", JMR 42(4), and Fader &
Hardie (2013), "The Gamma-Gamma Model of Monetary Value".

Inputs per customer: x = repeat transactions (after the first), t_x = time of the last transaction
and T = age, both measured from the first transaction (any unit; we use weeks), and m = mean
value of the repeat transactions (Gamma-Gamma uses customers with x > 0). What a transaction is
(a purchase day) is decided by `compute._model_inputs`; see docs/scoring.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import optimize, special

Array = NDArray[np.float64]


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float
    ll: float = 0.0
    n: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BgNbdParams | None:
        if not data:
            return None
        return cls(**{k: data[k] for k in ("r", "alpha", "a", "b", "ll", "n") if k in data})


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float
    ll: float = 0.0
    n: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GammaGammaParams | None:
        if not data:
            return None
        return cls(**{k: data[k] for k in ("p", "q", "gamma", "ll", "n") if k in data})


# --- BG/NBD -----------------------------------------------------------------------------------


def bgnbd_log_likelihood(r: float, alpha: float, a: float, b: float, x: Array, t_x: Array, T: Array) -> Array:
    """Per-customer log-likelihood, equation (6) of Fader, Hardie & Lee (2005), in log form."""
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    result: Array = a1 + a2 + np.logaddexp(a3, a4)
    return result


def fit_bgnbd(
    x: Array, t_x: Array, T: Array, *, weights: Array | None = None, initial: tuple[float, ...] = (1, 1, 1, 1)
) -> BgNbdParams:
    """Maximum-likelihood estimates of (r, alpha, a, b); optimised over log-parameters (all > 0)."""
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float)
    total = float(w.sum())

    def objective(log_params: Array) -> tuple[float, Array]:
        r, alpha, a, b = np.exp(log_params)
        value, grad = _bgnbd_ll_and_gradient(r, alpha, a, b, x, t_x, T, w)
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e100, np.zeros(4)
        # Gradient with respect to the log-parameters (chain rule), mean over customers.
        return -value / total, -grad * np.array([r, alpha, a, b]) / total

    start = np.log(np.asarray(initial, dtype=float))
    result = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", options={"ftol": 1e-13, "gtol": 1e-9})
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    return BgNbdParams(r=r, alpha=alpha, a=a, b=b, ll=-float(result.fun) * total, n=int(total))


def _bgnbd_ll_and_gradient(
    r: float, alpha: float, a: float, b: float, x: Array, t_x: Array, T: Array, w: Array
) -> tuple[float, Array]:
    """Weighted total log-likelihood and its gradient in (r, alpha, a, b)."""
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(
            repeat, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x), -np.inf
        )
    lse = np.logaddexp(a3, a4)
    w3 = np.exp(a3 - lse)
    w4 = np.exp(a4 - lse)
    ll = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
        + lse
    )
    d_ab = special.digamma(a + b) - special.digamma(a + b + x)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_bx1 = np.where(repeat, 1.0 / np.maximum(b + x - 1, 1e-300), 0.0)
    d_r = (
        special.digamma(r + x) - special.digamma(r) + np.log(alpha) - w3 * np.log(alpha + T) - w4 * np.log(alpha + t_x)
    )
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    d_a = d_ab + w4 / a
    d_b = d_ab + special.digamma(b + x) - special.digamma(b) - w4 * inv_bx1
    grad = np.array([np.dot(w, d_r), np.dot(w, d_alpha), np.dot(w, d_a), np.dot(w, d_b)])
    return float(np.dot(w, ll)), grad


def bgnbd_p_alive(params: BgNbdParams, x: Array, t_x: Array, T: Array) -> Array:
    """P(alive | x, t_x, T): equation (12) of Fader, Hardie & Lee (2005)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = (
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
        result: Array = np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)
    return result


def bgnbd_expected_purchases(params: BgNbdParams, t: float, x: Array, t_x: Array, T: Array) -> Array:
    """E[Y(t) | x, t_x, T]: expected purchases in the next `t` periods, equation (10)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    z = t / (alpha + T + t)
    # ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; z) after Euler's transformation
    # 2F1(A,B;C;z) = (1−z)^(C−A−B) 2F1(C−A, C−B; C; z): the same value, but its parameters no
    # longer grow with x, so frequent buyers do not overflow 2F1 to infinity.
    # A degenerate fit (a, b → ∞) overflows 2F1: the non-finite results are caught by the guard below.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        numerator = 1.0 - (1.0 - z) ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        factor = (a + b + x - 1) / (a - 1)
        log_ratio = (
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
        denominator = 1.0 + np.where(x > 0, np.exp(log_ratio), 0.0)
    result: Array = factor * numerator / denominator
    return np.where(np.isfinite(result), np.maximum(result, 0.0), 0.0)


def bgnbd_unconditional_expected(params: BgNbdParams, t: Array | float) -> Array:
    """E[X(t)]: expected purchases of a new customer in (0, t], equation (9)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    t = np.asarray(t, dtype=float)
    hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    result: Array = (a + b - 1) / (a - 1) * (1.0 - (alpha / (alpha + t)) ** r * hyp)
    return result


def simulate_bgnbd(params: BgNbdParams, n: int, T: float | Array, *, seed: int = 0) -> tuple[Array, Array, Array]:
    """Draw (x, t_x, T) for `n` customers from the BG/NBD generative story (used to test recovery)."""
    rng = np.random.default_rng(seed)
    T_arr = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    lam = rng.gamma(params.r, 1.0 / params.alpha, n)
    p = rng.beta(params.a, params.b, n)
    x = np.zeros(n)
    t_x = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    clock = np.zeros(n)
    while alive.any():
        idx = np.flatnonzero(alive)
        clock[idx] += rng.exponential(1.0 / lam[idx])
        inside = clock[idx] <= T_arr[idx]
        done = idx[~inside]
        alive[done] = False
        bought = idx[inside]
        x[bought] += 1
        t_x[bought] = clock[bought]
        # After each purchase the customer drops out with probability p.
        drops = bought[rng.random(bought.size) < p[bought]]
        alive[drops] = False
    return x, t_x, T_arr


# --- Gamma-Gamma ------------------------------------------------------------------------------


def gamma_gamma_log_likelihood(p: float, q: float, gamma: float, x: Array, m: Array) -> Array:
    """Per-customer log-likelihood of the observed average value m over x transactions (x > 0)."""
    px = p * x
    result: Array = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(gamma)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + gamma)
    )
    return result


def fit_gamma_gamma(x: Array, m: Array, *, initial: tuple[float, float, float] = (1, 1, 1)) -> GammaGammaParams:
    """MLE of (p, q, gamma) over customers with x > 0 and m > 0."""
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    n = int(x.size)

    def objective(log_params: Array) -> tuple[float, Array]:
        p, q, gamma = np.exp(log_params)
        px = p * x
        common = special.digamma(px + q)
        log_total = np.log(x * m + gamma)
        value = float(gamma_gamma_log_likelihood(p, q, gamma, x, m).sum())
        grad = np.array(
            [
                float(np.sum(x * (common - special.digamma(px) + np.log(m) + np.log(x) - log_total))),
                float(np.sum(common - special.digamma(q) + np.log(gamma) - log_total)),
                float(np.sum(q / gamma - (px + q) / (x * m + gamma))),
            ]
        )
        if not np.isfinite(value) or not np.all(np.isfinite(grad)):
            return 1e100, np.zeros(3)
        return -value / n, -grad * np.array([p, q, gamma]) / n

    start = np.log(np.asarray(initial, dtype=float))
    result = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", options={"ftol": 1e-13, "gtol": 1e-9})
    p, q, gamma = (float(v) for v in np.exp(result.x))
    return GammaGammaParams(p=p, q=q, gamma=gamma, ll=-float(result.fun) * n, n=n)


def gamma_gamma_expected_value(params: GammaGammaParams, x: Array, m: Array) -> Array:
    """E[M | p, q, gamma, m, x]: a weighted mean of the population mean and the customer's own mean.

    For x = 0 (no repeat purchase) it is the population mean gamma p / (q - 1).
    """
    p, q, gamma = params.p, params.q, params.gamma
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    population_mean = gamma * p / (q - 1) if q > 1 else float(np.nan)
    weight = (q - 1) / (p * x + q - 1)
    result: Array = weight * population_mean + (1 - weight) * m
    result = np.where(x > 0, result, population_mean)
    return result


def simulate_gamma_gamma(params: GammaGammaParams, x: Array, *, seed: int = 0) -> Array:
    """Average value of x transactions per customer, drawn from the Gamma-Gamma story."""
    rng = np.random.default_rng(seed)
    x = np.asarray(x, dtype=float)
    nu = rng.gamma(params.q, 1.0 / params.gamma, x.size)
    totals = rng.gamma(params.p * x, 1.0 / nu)
    result: Array = totals / x
    return result
