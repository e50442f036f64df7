"""BG/NBD and Gamma-Gamma: published worked numbers, and recovery of known parameters from synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from crm.customers.scoring import value_models as vm

# Published maximum-likelihood estimates on the CDNOW sample (2,357 customers, 39 weeks):
# BG/NBD — Fader, Hardie & Lee (2005), "Counting your customers the easy way", table/section 4.
CDNOW_BGNBD = vm.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
# Gamma-Gamma — Fader, Hardie & Lee (2005), "RFM and CLV", and Fader & Hardie (2013).
CDNOW_GG = vm.GammaGammaParams(p=6.25, q=3.74, gamma=15.44)


def test_conditional_expectation_reproduces_the_published_worked_example() -> None:
    # given the CDNOW parameters and the paper's example customer: x=2, t_x=30.43, T=38.86 weeks
    x, t_x, T = np.array([2.0]), np.array([30.43]), np.array([38.86])
    # when we ask for expected purchases in the next 39 weeks
    expected = vm.bgnbd_expected_purchases(CDNOW_BGNBD, 39, x, t_x, T)
    # then we get the paper's 1.226
    assert round(float(expected[0]), 3) == 1.226


def test_p_alive_is_one_without_repeat_purchases_and_falls_with_silence() -> None:
    T = np.full(4, 38.86)
    p = vm.bgnbd_p_alive(CDNOW_BGNBD, np.array([0.0, 2, 2, 2]), np.array([0.0, 38.0, 30.43, 5.0]), T)
    assert p[0] == 1.0
    assert p[1] > p[2] > p[3]
    # closed form for x=2, t_x=30.43: 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x))
    ratio = (4.414 + 38.86) / (4.414 + 30.43)
    assert p[2] == pytest.approx(1 / (1 + 0.793 / (2.426 + 1) * ratio ** (0.243 + 2)), rel=1e-12)


def test_conditional_expectation_of_a_new_customer_equals_the_unconditional_one() -> None:
    # E[Y(t) | x=0, t_x=0, T=0] is E[X(t)] by definition: two different formulas must agree.
    t = 52.0
    conditional = vm.bgnbd_expected_purchases(CDNOW_BGNBD, t, np.array([0.0]), np.array([0.0]), np.array([0.0]))
    assert float(conditional[0]) == pytest.approx(float(vm.bgnbd_unconditional_expected(CDNOW_BGNBD, t)), rel=1e-9)


def test_gamma_gamma_expected_value_is_a_weighted_mean_and_population_mean_at_zero() -> None:
    population = 15.44 * 6.25 / (3.74 - 1)  # gamma p / (q - 1) = 35.22
    value = vm.gamma_gamma_expected_value(CDNOW_GG, np.array([0.0, 1.0, 10.0]), np.array([0.0, 100.0, 100.0]))
    assert value[0] == pytest.approx(population)
    # x=1, m=100: weight (q-1)/(p x + q - 1) = 2.74 / 8.99 on the population mean
    assert value[1] == pytest.approx(2.74 / 8.99 * population + 6.25 / 8.99 * 100)
    assert population < value[1] < value[2] < 100


def test_bgnbd_fit_recovers_known_parameters_from_synthetic_data() -> None:
    # given 20,000 customers drawn from the CDNOW parameters with ages between 27 and 39 weeks
    rng = np.random.default_rng(7)
    x, t_x, T = vm.simulate_bgnbd(CDNOW_BGNBD, 20_000, rng.uniform(27, 39, 20_000), seed=11)
    # when fitted
    fitted = vm.fit_bgnbd(x, t_x, T)
    # then each parameter is within 15 % of the truth
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted, name) == pytest.approx(getattr(CDNOW_BGNBD, name), rel=0.15), name
    # and the fitted likelihood is at least as high as the likelihood at the true parameters
    truth = vm.bgnbd_log_likelihood(0.243, 4.414, 0.793, 2.426, x, t_x, T).sum()
    assert fitted.ll >= truth - 1e-6


def test_gamma_gamma_fit_recovers_known_parameters_from_synthetic_data() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(1, 15, 20_000).astype(float)
    m = vm.simulate_gamma_gamma(CDNOW_GG, x, seed=5)
    fitted = vm.fit_gamma_gamma(x, m)
    # p, q and gamma trade off against each other; the population mean is tightly identified
    for name in ("p", "q", "gamma"):
        assert getattr(fitted, name) == pytest.approx(getattr(CDNOW_GG, name), rel=0.25), name
    assert fitted.gamma * fitted.p / (fitted.q - 1) == pytest.approx(15.44 * 6.25 / 2.74, rel=0.05)


def test_fit_never_returns_non_finite_parameters_on_degenerate_data() -> None:
    # everyone bought once and never again
    x = np.zeros(100)
    fitted = vm.fit_bgnbd(x, np.zeros(100), np.full(100, 30.0))
    assert all(np.isfinite([fitted.r, fitted.alpha, fitted.a, fitted.b]))


def test_expected_purchases_stay_finite_for_very_frequent_buyers() -> None:
    # 2F1(r+x, b+x; …) overflows for large x in the textbook form; the Euler-transformed form must
    # agree with it where both are finite and stay finite beyond.
    from scipy import special

    r, alpha, a, b = 0.243, 4.414, 0.793, 2.426
    for x, t_x in [(20, 30.0), (100, 38.0)]:
        T, t = 38.86, 39.0
        z = t / (alpha + T + t)
        textbook = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        textbook *= (a + b + x - 1) / (a - 1) / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
        ours = vm.bgnbd_expected_purchases(CDNOW_BGNBD, t, np.array([float(x)]), np.array([t_x]), np.array([T]))
        assert float(ours[0]) == pytest.approx(textbook, rel=1e-9)
    many = vm.bgnbd_expected_purchases(
        CDNOW_BGNBD, 52, np.array([300.0, 1000.0, 5000.0]), np.array([38.0, 38.5, 38.8]), np.full(3, 38.86)
    )
    assert np.all(np.isfinite(many))
    assert np.all(np.diff(many) > 0)
