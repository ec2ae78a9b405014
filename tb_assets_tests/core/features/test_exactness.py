"""Exact values on real bars: ties decided exactly, stable rolling moments, honest warm-ups.

Each case is one an outside comparison against TA-Lib, `ta`, scipy and scikit-learn found wrong
before: MFI counted equal typical prices as a rise or fall by their last float bit, pandas' running
sums lost up to 1e-8 in rolling standard deviations of minute prices, and EMA-seeded indicators
still remembered where the file began after the declared warm-up.
"""

import statistics
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_assets.core.features import indicators as ind
from tb_assets.core.features.matrix import (
    FeatureOptions,
    build_feature_matrix,
    has_traded_volume,
    select_features,
    symbol_features,
    warmup_of,
)
from tb_assets.core.features.rolling import rolling_mean_std
from tb_assets_tests.real_files import load


@pytest.fixture(scope="module")
def real_bars(real_csv_dir):
    """SPY minute and daily bars and the CBOE VIX, read as the real-data tests read them."""
    return {symbol: load(real_csv_dir, symbol)[0] for symbol in ("SPYMIN", "SPYD", "VIX")}


def decimal(x: float) -> Decimal:
    return Decimal(repr(float(x)))  # the shortest decimal that reads back as x: the vendor's price


def textbook_mfi(bars: pd.DataFrame, n: int = 14) -> np.ndarray:
    """MFI with the typical price's direction decided in decimal (what the vendor's prices are)."""
    h, l, c, v = (bars[k].tolist() for k in ("high", "low", "close", "volume"))
    exact = [decimal(a) + decimal(b) + decimal(x) for a, b, x in zip(h, l, c)]
    flow = [(a + b + x) / 3.0 * vol for a, b, x, vol in zip(h, l, c, v)]
    pos = [0.0] + [flow[i] if exact[i] > exact[i - 1] else 0.0 for i in range(1, len(h))]
    neg = [0.0] + [flow[i] if exact[i] < exact[i - 1] else 0.0 for i in range(1, len(h))]
    out = np.full(len(h), np.nan)
    for i in range(n, len(h)):
        p, m = sum(pos[i - n + 1 : i + 1]), sum(neg[i - n + 1 : i + 1])
        out[i] = 50.0 if p + m == 0 else 100.0 * p / (p + m)
    return out


def test_equal_typical_prices_carry_no_flow():
    # 10.1 + 10.0 + 10.2 and 10.2 + 10.0 + 10.1 are 30.3 in decimal, 30.3 and 30.299999999999997 in floats
    assert 10.1 + 10.0 + 10.2 != 10.2 + 10.0 + 10.1
    high, low, close = pd.Series([10.1, 10.2, 10.2]), pd.Series([10.0, 10.0, 10.0]), pd.Series([10.2, 10.1, 10.2])
    assert ind.typical_price_direction(high, low, close)[1:].tolist() == [0.0, 1.0]
    # a window of ties only has no flow either way: MFI is the neutral 50, not 0 or 100
    flat = ind.money_flow_index(
        pd.Series([10.1, 10.2] * 10), pd.Series([10.0] * 20), pd.Series([10.2, 10.1] * 10), pd.Series([5.0] * 20), 14
    )
    assert (flat.iloc[14:] == 50.0).all()


@pytest.mark.real_data
@pytest.mark.parametrize("symbol,min_ties", [("SPYMIN", 1000), ("SPYD", 5)])
def test_mfi_on_real_bars_decides_ties_in_decimal(real_bars, symbol, min_ties):
    bars = real_bars[symbol]
    exact = [decimal(a) + decimal(b) + decimal(x) for a, b, x in zip(bars["high"], bars["low"], bars["close"])]
    ties = sum(exact[i] == exact[i - 1] for i in range(1, len(exact)))
    float_sums = (bars["high"] + bars["low"] + bars["close"]).to_numpy()
    noisy = sum(exact[i] == exact[i - 1] and float_sums[i] != float_sums[i - 1] for i in range(1, len(exact)))
    assert ties >= min_ties and noisy >= 1  # the file does hold ties that float noise splits
    ours = ind.money_flow_index(bars["high"], bars["low"], bars["close"], bars["volume"], 14).to_numpy()
    np.testing.assert_allclose(ours, textbook_mfi(bars), rtol=1e-9, atol=1e-9)


def exact_std(window, ddof: int) -> float:
    """The window's standard deviation in exact rational arithmetic, rounded once."""
    values = [Fraction(float(x)) for x in window]
    mean = sum(values) / len(values)
    return float(sum((x - mean) ** 2 for x in values) / (len(values) - ddof)) ** 0.5


@pytest.mark.real_data
def test_rolling_std_of_minute_prices_matches_an_exact_two_pass(real_bars):
    bars = real_bars["SPYMIN"].iloc[:4000]
    for column, ddof in (("close", 0), ("volume", 1)):
        x = bars[column].to_numpy("float64")
        _, std = rolling_mean_std(x, 20, ddof)
        exact = np.array([exact_std(x[i - 19 : i + 1], ddof) for i in range(19, len(x))])
        rel = np.abs(std[19:] - exact) / np.where(exact > 0, exact, 1.0)
        assert rel.max() <= 1e-10, (column, rel.max())
        assert (std[19:][exact == 0] == 0).all()  # a flat window is exactly flat
    # pandas' running sums, which the features used before, are off by far more on these prices
    pandas_std = bars["close"].rolling(20).std(ddof=0).to_numpy()[19:]
    exact = np.array([exact_std(bars["close"].to_numpy()[i - 19 : i + 1], 0) for i in range(19, len(bars))])
    assert np.nanmax(np.abs(pandas_std - exact) / np.where(exact > 0, exact, 1.0)) > 1e-9


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=-5, max_value=5, allow_nan=False), min_size=25, max_size=120),
    st.sampled_from([1.0, 1e3, 1e6]),
    st.integers(min_value=2, max_value=20),
    st.sampled_from([0, 1]),
)
def test_rolling_mean_std_property_against_statistics(steps, level, n, ddof):
    x = level + np.round(np.cumsum(steps), 2)  # prices in cents at very different levels
    mean, std = rolling_mean_std(x, n, ddof)
    for i in range(n - 1, len(x)):
        window = [float(v) for v in x[i - n + 1 : i + 1]]
        assert mean[i] == pytest.approx(statistics.fmean(window), rel=1e-14, abs=1e-12)
        exact = statistics.pstdev(window) if ddof == 0 else statistics.stdev(window)  # exact rationals
        assert std[i] == pytest.approx(exact, rel=1e-10, abs=1e-12 * level)
    assert np.isnan(std[: n - 1]).all()


def same_rows(late: pd.DataFrame, early: pd.DataFrame) -> None:
    """Every row of `late` (built from less history) equals `early`'s row at the same time, to
    1e-6 relative (a column's typical size sets the scale where a value crosses zero)."""
    assert len(late) > 0
    joined = late.merge(early, on="ts", how="left", suffixes=("", "__early"), validate="one_to_one")
    assert late["ts"].isin(early["ts"]).all()
    for column in (c for c in late.columns if c != "ts"):
        a, b = joined[column].to_numpy("float64"), joined[f"{column}__early"].to_numpy("float64")
        assert np.array_equal(np.isnan(a), np.isnan(b)), column
        scale = np.nanmedian(np.abs(b)) or 1.0
        ok = np.isclose(a, b, rtol=1e-6, atol=1e-6 * scale, equal_nan=True)
        assert ok.all(), f"{column}: {(~ok).sum()} rows differ, first at {joined['ts'][~ok].iloc[0]}: {a[~ok][0]!r} vs {b[~ok][0]!r}"


@pytest.mark.real_data
@pytest.mark.parametrize("symbol,timeframe,context", [("SPYD", "1d", "VIX"), ("SPYMIN", "1m", None)])
def test_feature_rows_do_not_depend_on_where_the_history_begins(real_bars, symbol, timeframe, context):
    """The full feature set built from bar 3000 equals the one built from bar 0 on every row it
    keeps; and each feature alone with its own declared warm-up (so no longer warm-up of another
    feature hides a short one)."""
    bars = real_bars[symbol]
    contexts = {context: real_bars[context]} if context else {}
    early = build_feature_matrix(bars, contexts, timeframe=timeframe, options=FeatureOptions("full"))
    late = build_feature_matrix(
        bars.iloc[3000:],
        {s: b[b["ts"] >= bars["ts"].iloc[3000]] for s, b in contexts.items()},
        timeframe=timeframe,
        options=FeatureOptions("full"),
    )
    assert late.features == early.features and "regime_gmm" in late.features and "macd_hist" in late.features
    if context:
        assert "regime_vix" in late.features
    same_rows(late.frame, early.frame)
    for name in select_features(FeatureOptions("full"), timeframe=timeframe, has_volume=has_traded_volume(bars), context=False):
        alone_late, cut = symbol_features(bars.iloc[3000:], [name], timeframe)
        assert cut >= warmup_of(name, timeframe)
        same_rows(alone_late, symbol_features(bars, [name], timeframe)[0])
