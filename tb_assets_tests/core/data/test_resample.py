"""Resampling against hand-computed buckets, and a property test against a slow obvious version."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tb_assets.core.data.columns import BAR_COLUMNS
from tb_assets.core.data.resample import count_gaps, resample_bars
from tb_assets.core.data.time_index import bucket_start
from tb_assets.core.data.validation import validate_bars


def bars(rows):
    df = pd.DataFrame(rows, columns=["ts", "open", "high", "low", "close", "volume", "vwap", "data_split"])
    df["ts"] = pd.to_datetime(df["ts"], utc=True)
    out, _ = validate_bars(df, symbol="T", origin="test")
    return out


def test_minutes_to_five_minutes_by_hand():
    b = bars(
        [
            ("2024-01-02 14:30", 10, 11, 9, 10.5, 100, 10.2, "train"),
            ("2024-01-02 14:31", 10.5, 12, 10, 11, 300, 11.0, "train"),
            ("2024-01-02 14:34", 11, 11.5, 8, 9, 0, 9.5, "test"),
            # 14:35-14:39 has no bar: no bucket is invented
            ("2024-01-02 14:40", 9, 9.5, 8.5, 9.2, 50, np.nan, "train"),
            ("2024-01-02 14:41", 9.2, 9.8, 9.1, 9.7, 50, 9.6, "train"),
        ]
    )
    out = resample_bars(b, "5m")
    assert list(out["ts"]) == list(pd.to_datetime(["2024-01-02 14:30", "2024-01-02 14:40"], utc=True))
    first, second = out.iloc[0], out.iloc[1]
    assert (first.open, first.high, first.low, first.close, first.volume) == (10, 12, 8, 9, 400)
    assert first.data_split == "test"  # any test bar makes the bucket test
    assert np.isclose(first.vwap, (10.2 * 100 + 11.0 * 300 + 9.5 * 0) / 400)
    assert (second.open, second.high, second.low, second.close, second.volume) == (9, 9.8, 8.5, 9.7, 100)
    assert second.data_split == "train"
    assert np.isclose(second.vwap, 9.6)  # the bar without a vwap does not dilute it
    assert list(out.columns) == list(BAR_COLUMNS)


def test_vwap_falls_back_to_last_when_nothing_traded():
    b = bars(
        [("2024-01-02 14:30", 10, 10, 10, 10, 0, 10.0, None), ("2024-01-02 14:31", 10, 10, 10, 10, 0, 10.5, None)]
    )
    out = resample_bars(b, "5m")
    assert out["vwap"].iloc[0] == 10.5 and out["volume"].iloc[0] == 0
    assert pd.isna(out["data_split"].iloc[0])


def test_daily_to_weekly_buckets_start_on_monday_and_skip_empty_weeks():
    days = pd.bdate_range("2024-01-03", "2024-01-12", tz="UTC").append(pd.bdate_range("2024-01-29", "2024-01-30", tz="UTC"))
    df = pd.DataFrame({"ts": days, "open": 1.0, "high": 2.0, "low": 0.5, "close": np.arange(len(days)) + 1.0, "volume": 1.0})
    df["high"] = df[["high", "close"]].max(axis=1)
    b, _ = validate_bars(df, symbol="T", origin="t")
    out = resample_bars(b, "1w")
    assert list(out["ts"]) == list(pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-29"], utc=True))
    assert out["volume"].tolist() == [3, 5, 2]  # Wed-Fri, Mon-Fri, Mon-Tue
    assert out["close"].tolist() == [3, 8, 10]


def test_same_timeframe_is_identity():
    b = bars([("2024-01-02", 1, 2, 0.5, 1.5, 10, np.nan, None), ("2024-01-03", 1.5, 2, 1, 1.8, 20, np.nan, None)])
    out = resample_bars(b, "1d")
    pd.testing.assert_frame_equal(out, b)


def test_extra_numeric_columns_take_the_last_value():
    b = bars([("2024-01-02 14:30", 1, 1, 1, 1, 1, np.nan, None), ("2024-01-02 14:31", 1, 1, 1, 1, 1, np.nan, None)])
    b["open_interest"] = [5.0, 7.0]
    out = resample_bars(b, "1h")
    assert out["open_interest"].tolist() == [7.0]


def slow_resample(b: pd.DataFrame, tf: str) -> pd.DataFrame:
    """The obvious version: loop over buckets, skipping missing values the way the docstring says."""
    rows = []
    keys = bucket_start(b["ts"], tf)
    for key in sorted(set(keys)):
        g = b[keys == key]
        vol, tc, vw = g["volume"].dropna(), g["trade_count"].dropna(), g["vwap"]
        traded = g["volume"].notna() & vw.notna()
        weight = g["volume"][traded].sum()
        vwap = (vw[traded] * g["volume"][traded]).sum() / weight if weight > 0 else (vw.dropna().iloc[-1] if vw.notna().any() else np.nan)
        split = [s for s in g["data_split"] if s is not pd.NA and s is not None]
        rows.append(
            dict(ts=key, open=g["open"].iloc[0], high=g["high"].max(), low=g["low"].min(), close=g["close"].iloc[-1],
                 volume=vol.sum() if len(vol) else np.nan, vwap=vwap, trade_count=tc.sum() if len(tc) else np.nan,
                 oi=g["oi"].dropna().iloc[-1] if g["oi"].notna().any() else np.nan,
                 split=("test" if "test" in split else "train") if split else None)
        )
    return pd.DataFrame(rows)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 400),
    tf=st.sampled_from(["5m", "15m", "1h", "4h", "1d", "1w"]),
)
def test_resample_matches_slow_version(seed, n, tf):
    rng = np.random.default_rng(seed)
    # random minute bars with random holes, spread over a few days; volume, vwap, trade counts and splits partly missing
    minutes = np.sort(rng.choice(60 * 24 * 9, size=n, replace=False))
    ts = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(minutes, unit="min")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.001, n)))
    open_ = close * np.exp(rng.normal(0, 0.0005, n))
    missing = lambda share: rng.random(n) < share  # noqa: E731
    df = pd.DataFrame({"ts": ts, "open": open_, "high": np.maximum(open_, close) * 1.001, "low": np.minimum(open_, close) * 0.999,
                       "close": close, "volume": np.where(missing(0.2), np.nan, rng.integers(0, 100, n)),
                       "vwap": np.where(missing(0.4), np.nan, close), "trade_count": np.where(missing(0.5), np.nan, rng.integers(0, 9, n)),
                       "oi": np.where(missing(0.5), np.nan, rng.random(n)),
                       "data_split": rng.choice(np.array(["train", "test", None], dtype=object), n, p=[0.8, 0.1, 0.1])})
    b, _ = validate_bars(df, symbol="T", origin="t")
    fast = resample_bars(b, tf)
    slow = slow_resample(b, tf)
    assert len(fast) == len(slow)
    assert (fast["ts"].to_numpy() == slow["ts"].to_numpy()).all()
    for col in ("open", "high", "low", "close", "volume", "vwap", "trade_count", "oi"):
        np.testing.assert_allclose(fast[col].to_numpy(float), slow[col].to_numpy(float), rtol=1e-12)
    assert fast["data_split"].fillna("none").tolist() == slow["split"].fillna("none").tolist()
    assert fast["volume"].sum() == b["volume"].sum()  # nothing lost, nothing invented


def test_gaps_count_holes_not_nights_or_weekends():
    day1 = pd.date_range("2024-01-05 14:30", periods=10, freq="1min", tz="UTC").delete([4, 5])  # 2-minute hole on Friday
    day2 = pd.date_range("2024-01-08 14:30", periods=10, freq="1min", tz="UTC")  # Monday: weekend between
    n, largest = count_gaps(day1.append(day2), "1m")
    assert n == 1 and largest > pd.Timedelta(days=2)
    daily = pd.bdate_range("2024-01-01", "2024-01-31", tz="UTC")
    assert count_gaps(daily, "1d")[0] == 0
    assert count_gaps(daily.delete(range(5, 10)), "1d")[0] == 1  # a missing week is a gap
