"""Revenue bands keep the amounts' order: the rank counted from them depends on it."""

import random
from decimal import Decimal

from baton_followup.projections.revenue_ranks import band_of


def test_bands_never_go_down_as_the_amount_goes_up():
    rng = random.Random(3)
    edges = ["-5", "0", "0.99", "1", "9.99", "10", "99", "100", "999.99", "1000", "1009", "1010", "99999.99",
             "100000", "999999", "1000000", "1E+7", "12345678901234567890"]  # fmt: skip
    amounts = sorted({Decimal(a) for a in edges} | {Decimal(rng.randrange(0, 10**rng.randrange(1, 12))) / 100 for _ in range(5000)})  # fmt: skip
    bands = [band_of(a) for a in amounts]
    assert bands == sorted(bands)


def test_a_band_is_the_digits_and_first_three_digits():
    assert band_of(Decimal("0.5")) == 0
    assert band_of(Decimal("7")) == 1700
    assert band_of(Decimal("250000.50")) == band_of(Decimal("250999")) == 6250
    assert band_of(Decimal("251000")) == 6251
    assert band_of(Decimal("1E+6")) == 7100
