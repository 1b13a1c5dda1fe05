"""Identifiability of latent class models (kmix.solvers.latent_class.identifiability, .certificate).

References: the Kruskal-type and 2k - 1 identifiability bounds stated in their
papers; the cell-probability map, its parameterisation and its Jacobian by
central differences, written independently here; four binary items with three
classes have 14 parameters but a Jacobian of rank 13 (Goodman, "Exploratory
latent structure analysis using both identifiable and unidentifiable models",
Biometrika 61, 1974); poLCA's gss82 survey (items with 3, 2, 2 and 3 levels,
McCutcheon 1987, Table 3.1) is fitted with four classes in poLCA's own
documentation; parameter counts are written out in each test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from kmix.exceptions import DataError
from kmix.solvers.latent_class import certificate
from kmix.solvers.latent_class.certificate import (
    cell_jacobian,
    certify_latent_class,
    n_parameters,
    pack,
    unpack,
)
from kmix.solvers.latent_class.identifiability import (
    check_identifiability,
    identify_latent_class,
)

# ---------------------------------------------------------------- independent implementation


def _split(theta, levels, k):
    """Weights then, item by item and class by class, the first d - 1 probabilities."""
    w = np.append(theta[: k - 1], 1.0 - np.sum(theta[: k - 1]))
    probs, at = [], k - 1
    for d in levels:
        free = np.reshape(theta[at : at + k * (d - 1)], (k, d - 1))
        probs.append(np.hstack([free, 1.0 - free.sum(axis=1, keepdims=True)]))
        at += k * (d - 1)
    return w, probs


def _table(theta, levels, k):
    """The full table sum_u w_u (x)_j p_j[u] as an array with one axis per item."""
    w, probs = _split(theta, levels, k)
    total = np.zeros(tuple(levels))
    for u in range(k):
        comp = probs[0][u]
        for p in probs[1:]:
            comp = np.multiply.outer(comp, p[u])
        total = total + w[u] * comp
    return total


def _fd_jacobian(fun, theta, h=1e-6):
    cols = []
    for i in range(theta.shape[0]):
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        cols.append((fun(up) - fun(down)).ravel() / (2 * h))
    return np.stack(cols, axis=1)


def _random_theta(levels, k, rng):
    w = rng.dirichlet(np.full(k, 2.0))
    probs = [rng.dirichlet(np.full(d, 2.0), size=k) for d in levels]
    flat = [w[:-1]] + [p[:, :-1].ravel() for p in probs]
    return np.concatenate(flat), w, probs


def _fd_rank(levels, k, rng, rtol=1e-6):
    """Numerical rank of the central-difference Jacobian of the full table, columns scaled."""
    theta, _, _ = _random_theta(levels, k, rng)
    jac = _fd_jacobian(lambda t: _table(t, levels, k), theta)
    jac = jac / np.linalg.norm(jac, axis=0)
    s = np.linalg.svd(jac, compute_uv=False)
    return int((s > rtol * s[0]).sum())


# ---------------------------------------------------------------- the sufficient conditions


def test_identifiability_conditions():
    assert not check_identifiability([2] * 4, 3).ok  # 4 binary items cannot carry 3 classes
    assert check_identifiability([2] * 4, 3).max_components == 2
    assert check_identifiability([2] * 5, 3).ok
    three = check_identifiability([3] * 4, 3)
    assert three.ok and "2k + 2 = 8" in three.condition


def test_the_cheap_check_keeps_its_meaning():
    held = check_identifiability([2] * 5, 3)
    assert held.kind == "sufficient condition" and held.identified
    assert held.n_parameters == 2 + 3 * 5 and held.rank is None
    failed = check_identifiability([3, 3, 2, 2], 4)  # sum min(kappa, 4) = 4 + 4 + 1 = 9 < 10
    assert not failed.ok and failed.kind == "unknown" and "9 < 2k + 2 = 10" in failed.condition
    assert not check_identifiability([], 2).ok  # no members: no condition, and no error


# ---------------------------------------------------------------- the Jacobian


def test_analytic_jacobian_matches_finite_differences_of_the_table():
    rng = np.random.default_rng(3)
    levels, k = [3, 2, 4, 2], 3
    theta, w, probs = _random_theta(levels, k, rng)
    assert np.allclose(pack(w, probs), theta)
    w2, probs2 = unpack(theta, levels, k)
    assert np.allclose(w2, w) and all(np.allclose(a, b) for a, b in zip(probs, probs2, strict=True))
    fd = _fd_jacobian(lambda t: _table(t, levels, k), theta)
    assert fd.shape == (3 * 2 * 4 * 2, n_parameters(levels, k))
    assert np.allclose(cell_jacobian(w, probs), fd, atol=1e-8)


def test_analytic_jacobian_of_margins_and_of_chosen_cells():
    rng = np.random.default_rng(4)
    levels, k = [3, 2, 4, 2, 3], 2
    theta, w, probs = _random_theta(levels, k, rng)

    def margin(t):
        return _table(t, levels, k).sum(axis=(1, 4))  # items 0, 2, 3

    fd = _fd_jacobian(margin, theta)
    assert np.allclose(cell_jacobian(w, probs, [((0, 2, 3), None)]), fd, atol=1e-8)
    codes = np.array([[2, 1, 3, 0, 1], [0, 0, 0, 1, 2]])
    rows = np.ravel_multi_index(codes.T, levels)
    full = _fd_jacobian(lambda t: _table(t, levels, k), theta)
    assert np.allclose(cell_jacobian(w, probs, [(range(5), codes)]), full[rows], atol=1e-8)


# ---------------------------------------------------------------- generic ranks


def test_four_binary_items_cannot_carry_three_classes():
    rng = np.random.default_rng(0)
    assert _fd_rank([2] * 4, 3, rng) == 13  # the independent Jacobian agrees (Goodman 1974)
    cert = certify_latent_class([2] * 4, 3, rng=rng)
    assert cert.n_parameters == 2 + 3 * 4 == 14 and cert.n_free_cells == 15
    assert cert.kind == "not identified" and cert.rank == 13
    assert cert.generic is not None and cert.generic.ranks == (13, 13, 13)
    ident = identify_latent_class([2] * 4, 3, rng=rng)
    assert not ident.ok and ident.kind == "not identified" and ident.max_components == 2
    assert "rank 13 of 14" in ident.condition and "4 binary items, k = 3" in ident.condition


def test_identified_although_kruskal_fails():
    rng = np.random.default_rng(1)
    levels = [3, 3, 2, 2]
    count = 3 + 4 * (2 + 2 + 1 + 1)
    assert count == 27 == n_parameters(levels, 4)
    assert not check_identifiability(levels, 4).ok
    ident = identify_latent_class(levels, 4, rng=rng)
    assert ident.ok and ident.identified and ident.kind == "locally identified"
    assert (ident.rank, ident.n_parameters) == (27, 27)
    assert "numerical rank 27 of 27" in ident.condition
    # five classes: 34 parameters fit under the 35 free cells, yet the rank is 33
    assert _fd_rank(levels, 5, rng) == 33
    assert ident.max_components == 4
    five = identify_latent_class(levels, 5, rng=rng)
    assert five.kind == "not identified" and five.rank == 33 and five.max_components == 4


@pytest.mark.parametrize("levels", [[3, 2, 2, 3], [3, 2, 3, 3]])
def test_gss82_like_surveys_with_four_classes(levels):
    rng = np.random.default_rng(2)
    count = 3 + 4 * sum(d - 1 for d in levels)
    cert = certify_latent_class(levels, 4, rng=rng)
    assert cert.identified and cert.rank == cert.n_parameters == count
    assert _fd_rank(levels, 4, rng) == count
    assert identify_latent_class(levels, 4, rng=rng).ok


@pytest.mark.parametrize("k", [2, 3, 4])
def test_binary_items_at_the_2k_minus_1_bound_have_full_rank(k):
    rng = np.random.default_rng(k)
    levels = [2] * (2 * k - 1)
    cert = certify_latent_class(levels, k, rng=rng)
    assert cert.identified and cert.rank == k - 1 + k * (2 * k - 1)
    assert identify_latent_class(levels, k, rng=rng).kind == "sufficient condition"


def test_two_items_are_never_enough():
    rng = np.random.default_rng(0)
    cert = certify_latent_class([2, 2], 2, rng=rng)
    assert cert.n_parameters == 1 + 2 * 2 == 5 and cert.n_free_cells == 3
    assert cert.kind == "not identified" and "5 parameters exceed the 3 free cells" in cert.reason
    # enough cells but two items: rank <= dim of k-rank tables = k (d1 + d2 - k) - 1
    wide = certify_latent_class([4, 5], 2, rng=rng)
    assert wide.n_parameters == 1 + 2 * 7 == 15 and wide.n_free_cells == 19
    assert wide.kind == "not identified" and "dimension 13 < 15 parameters" in wide.reason
    assert _fd_rank([4, 5], 2, rng) == 2 * (4 + 5 - 2) - 1
    assert not identify_latent_class([4, 5], 2, rng=rng).ok


def test_a_table_too_large_to_form_goes_through_the_margins():
    rng = np.random.default_rng(5)
    levels = [2] * 15  # 32,768 cells
    cert = certify_latent_class(levels, 4, rng=rng)
    assert math.prod(levels) > certificate.FULL_TABLE_CELLS
    assert "three-way margins" in cert.observables
    assert cert.identified and cert.rank == 3 + 4 * 15
    assert cert.generic is not None and cert.generic.n_observables < 2**15


def test_a_deficiency_off_the_full_table_is_not_a_refusal(monkeypatch):
    # with the whole-table check out of reach, the rank-13 case cannot be proved
    monkeypatch.setattr(certificate, "FULL_TABLE_CELLS", 8)
    rng = np.random.default_rng(0)
    cert = certify_latent_class([2] * 4, 3, rng=rng)
    assert cert.kind == "unknown" and cert.rank == 13
    ident = identify_latent_class([2] * 4, 3, rng=rng)
    assert ident.ok and ident.kind == "unknown" and not ident.identified


def test_too_many_parameters_are_not_checked(monkeypatch):
    monkeypatch.setattr(certificate, "MAX_PARAMETERS", 20)
    cert = certify_latent_class([2] * 6, 4, rng=np.random.default_rng(0))  # 27 parameters
    assert cert.kind == "unknown" and cert.generic is None


# ---------------------------------------------------------------- at the fitted parameters


def test_a_fit_on_the_boundary_has_a_lower_rank_than_the_model():
    rng = np.random.default_rng(6)
    levels, k = [2] * 5, 3
    _, _, probs = _random_theta(levels, k, rng)
    inside = certify_latent_class(
        levels, k, rng=rng, weights=np.array([0.5, 0.3, 0.2]), probs=probs
    )
    assert inside.identified and inside.at_fit is not None and inside.at_fit.rank == 17
    empty = certify_latent_class(levels, k, rng=rng, weights=np.array([0.6, 0.4, 0.0]), probs=probs)
    # pi_3 = 0 multiplies the five columns of class 3's probabilities: rank <= 17 - 5
    assert empty.identified and empty.rank == 17
    assert empty.at_fit is not None and empty.at_fit.rank == 12


def test_fitted_parameters_of_the_wrong_shape_are_named():
    rng = np.random.default_rng(0)
    with pytest.raises(DataError, match="weights of shape"):
        certify_latent_class([2, 2, 2], 2, rng=rng, weights=np.ones(3) / 3, probs=[np.eye(2)] * 3)
    with pytest.raises(DataError, match="both"):
        certify_latent_class([2, 2, 2], 2, rng=rng, weights=np.ones(2) / 2)
    with pytest.raises(DataError, match="theta must have"):
        unpack(np.zeros(3), [2, 2], 2)
