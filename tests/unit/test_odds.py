import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from a1lab import odds

ODDS = np.array([[2.0, 3.5, 4.0], [1.25, 6.0, 12.0], [3.1, 3.3, 2.4]])


def test_conversions_by_hand():
    assert odds.american_to_decimal([+219, -270, 100]) == pytest.approx([3.19, 1 + 100 / 270, 2.0])
    assert odds.decimal_to_american([3.19, 1.5, 2.0]) == pytest.approx([219.0, -200.0, 100.0])
    assert odds.fractional_to_decimal("5/2") == 3.5
    assert odds.fractional_to_decimal("evs") == 2.0
    assert odds.decimal_to_fractional(3.5) == "5/2"
    assert odds.decimal_to_fractional(1.5) == "1/2"
    assert odds.implied_probability([2.0, 4.0]) == pytest.approx([0.5, 0.25])
    assert np.isnan(odds.american_to_decimal([50])).all()
    with pytest.raises(ValueError):
        odds.fractional_to_decimal("abc")
    with pytest.raises(ValueError):
        odds.decimal_to_fractional(1.0)


def test_roundtrip_american_decimal():
    dec = np.array([1.1, 1.5, 1.99, 2.0, 2.5, 10.0])
    assert odds.american_to_decimal(odds.decimal_to_american(dec)) == pytest.approx(dec)


def test_overround_by_hand():
    assert odds.overround([[2.0, 3.5, 4.0]])[0] == pytest.approx(0.5 + 1 / 3.5 + 0.25 - 1)


def test_multiplicative_known_values_and_ratios():
    assert odds.multiplicative([[2.0, 4.0, 4.0]])[0] == pytest.approx([0.5, 0.25, 0.25])  # a fair book stays
    assert odds.multiplicative([[1.9, 1.9]])[0] == pytest.approx([0.5, 0.5])
    # 2.0 / 3.5 / 4.0: implied 0.5, 0.2857, 0.25 sum to 1.0357; worked out by hand to 4 places
    assert odds.multiplicative([[2.0, 3.5, 4.0]])[0] == pytest.approx([0.4828, 0.2759, 0.2414], abs=1e-4)


@given(st.lists(st.floats(1.05, 30.0), min_size=2, max_size=4))
def test_margin_removal_properties(prices):
    pi = 1 / np.array(prices)
    if pi.sum() <= 1.0:
        return  # a book without margin
    mult, add, pow_ = (f([prices])[0] for f in (odds.multiplicative, odds.additive, odds.power))
    for p in (mult, add, pow_):
        assert p.sum() == pytest.approx(1.0) and (np.diff(p[np.argsort(pi)]) >= -1e-12).all()  # order kept
    assert mult / mult[0] == pytest.approx(pi / pi[0])  # multiplicative keeps ratios
    if (add > 0).all():  # (a long shot pushed below 0 is clipped, and the row renormalised)
        assert np.ptp(pi - add) == pytest.approx(0.0, abs=1e-12)  # additive takes the same amount from each
    k = np.log(pow_) / np.log(pi)
    assert np.ptp(k) == pytest.approx(0.0, abs=1e-6) and k[0] > 1  # power: one exponent above 1


def test_shin_two_outcomes_closed_form():
    # for two outcomes Shin's probabilities equal the additive ones (a known identity)
    o = [[1.6, 2.3]]
    assert odds.shin(o)[0] == pytest.approx(odds.additive(o)[0], abs=1e-9)


def test_shin_z_range_and_hand_formula():
    p, z = odds.shin_probabilities(ODDS)
    assert ((z >= 0) & (z < 1)).all()
    pi = 1 / ODDS[0]
    s = pi.sum()
    hand = (np.sqrt(z[0] ** 2 + 4 * (1 - z[0]) * pi**2 / s) - z[0]) / (2 * (1 - z[0]))
    assert p[0] == pytest.approx(hand / hand.sum())
    assert hand.sum() == pytest.approx(1.0, abs=1e-9)


def test_odds_ratio_constant_ratio():
    p = odds.odds_ratio(ODDS)
    pi = 1 / ODDS
    ratio = (pi / (1 - pi)) / (p / (1 - p))
    assert ratio == pytest.approx(np.repeat(ratio[:, :1], 3, axis=1))


@pytest.mark.parametrize("method", sorted(odds.METHODS))
def test_invariants(method):
    p = odds.remove_margin(ODDS, method)
    assert p.sum(axis=1) == pytest.approx(np.ones(len(ODDS)))
    assert (p > 0).all()
    # order kept: shorter odds, higher probability
    assert (np.argsort(p, axis=1) == np.argsort(-ODDS, axis=1)).all()
    # fair odds (no margin) come back unchanged
    fair = np.array([[2.0, 4.0, 4.0]])
    assert odds.remove_margin(fair, method)[0] == pytest.approx([0.5, 0.25, 0.25], abs=1e-9)


@pytest.mark.parametrize("method", sorted(odds.METHODS))
def test_missing_or_invalid_rows_give_nan(method):
    p = odds.remove_margin([[2.0, np.nan, 4.0], [1.0, 3.0, 3.0], [2.0, 3.5, 4.0]], method)
    assert np.isnan(p[:2]).all() and np.isfinite(p[2]).all()


@pytest.mark.parametrize("method", sorted(odds.METHODS))
def test_a_row_gets_the_same_bits_alone_or_in_a_table_with_bad_rows(method):
    table = np.vstack([ODDS, [[2.0, np.nan, 4.0]]])  # a bad row: the table takes the masked route, a row alone not
    together = odds.remove_margin(table, method)
    for i, row in enumerate(ODDS):
        np.testing.assert_array_equal(odds.remove_margin(row[None, :], method)[0], together[i])


def test_longshot_methods_shade_the_longshot():
    # power and Shin take more margin from the longshot than multiplicative does
    mult = odds.multiplicative(ODDS[1:2])[0]
    for method in ("power", "shin", "odds_ratio"):
        assert odds.remove_margin(ODDS[1:2], method)[0][2] < mult[2]


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown margin method"):
        odds.remove_margin(ODDS, "magic")
