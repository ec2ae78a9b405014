"""Each indicator against its textbook formula: literal hand-computed values, and a slow loop
implementation of the formula compared on random bars."""

import math
import statistics

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tb_assets.core.features import indicators as ind


def frame(n=80, seed=3):
    rng = np.random.default_rng(seed)
    c = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    o = c * np.exp(rng.normal(0, 0.004, n))
    h = np.maximum(o, c) * np.exp(np.abs(rng.normal(0, 0.004, n)))
    l = np.minimum(o, c) * np.exp(-np.abs(rng.normal(0, 0.004, n)))
    v = rng.integers(1_000, 10_000, n).astype(float)
    return pd.DataFrame({"open": o, "high": h, "low": l, "close": c, "volume": v})


def close_to(fast, slow, **kw):
    fast, slow = np.asarray(fast, float), np.asarray(slow, float)
    assert np.array_equal(np.isnan(fast), np.isnan(slow)), "NaN positions differ"
    np.testing.assert_allclose(fast[~np.isnan(fast)], slow[~np.isnan(slow)], rtol=kw.get("rtol", 1e-9), atol=kw.get("atol", 1e-12))


def wilder_loop(x, n):
    out = [math.nan] * len(x)
    start = next(i for i, v in enumerate(x) if not math.isnan(v))
    avg = sum(x[start : start + n]) / n
    out[start + n - 1] = avg
    for i in range(start + n, len(x)):
        avg = (avg * (n - 1) + x[i]) / n  # Wilder's form
        out[i] = avg
    return out


def ema_loop(x, span):
    a, out = 2 / (span + 1), [x[0]]
    for v in x[1:]:
        out.append(a * v + (1 - a) * out[-1])
    return out


# ---- literal, hand-computed values -------------------------------------------------------


def test_literal_values():
    bar = pd.Series
    assert ind.internal_bar_strength(bar([12.0]), bar([10.0]), bar([11.5]))[0] == pytest.approx(0.75)
    assert ind.balance_of_power(bar([10.5]), bar([12.0]), bar([10.0]), bar([11.5]))[0] == pytest.approx(0.5)
    assert ind.internal_bar_strength(bar([5.0]), bar([5.0]), bar([5.0]))[0] == 0.5  # no range
    rising = pd.Series(np.arange(1.0, 31.0))
    assert ind.rsi(rising, 14).iloc[-1] == 100.0  # no losses
    assert math.isnan(ind.rsi(rising, 14).iloc[13]) and not math.isnan(ind.rsi(rising, 14).iloc[14])
    flat = pd.Series(np.full(30, 7.0))
    assert ind.rsi(flat, 14).iloc[-1] == 50.0
    # RSI with n=2 on 10, 11, 10.5, 11.5: gains 1, 0, 1; losses 0, .5, 0
    # seed avg gain = .5, loss = .25 -> RSI 66.67; next: gain (.5*1+1)/2 = .75, loss .125 -> 85.71
    r = ind.rsi(pd.Series([10.0, 11.0, 10.5, 11.5]), 2)
    assert r.iloc[2] == pytest.approx(100 * 0.5 / 0.75) and r.iloc[3] == pytest.approx(100 * 0.75 / 0.875)
    # Aroon n=5 over the last 6 bars: the high 9 was 2 bars ago -> up = (5 - 2) / 5 * 100 = 60;
    # the low 0.3 was 3 bars ago -> down = (5 - 3) / 5 * 100 = 40
    a = ind.aroon(pd.Series([1, 2, 3, 9, 4, 5.0]), pd.Series([0.5, 0.4, 0.3, 2, 3, 4.0]), 5)
    assert a["aroon_up"].iloc[-1] == 60.0 and a["aroon_down"].iloc[-1] == 40.0 and a["aroon_osc"].iloc[-1] == 20.0
    assert a.iloc[:5].isna().all().all()
    # stochastic: close at the 3-bar high -> 100, at the low -> 0
    s = ind.stochastic(pd.Series([2.0, 3.0, 4.0, 4.0]), pd.Series([1.0, 1.5, 2.0, 1.0]), pd.Series([1.5, 2.5, 4.0, 1.5]), 3, 1)
    assert s["stoch_k"].iloc[2] == 100.0 and s["stoch_k"].iloc[3] == pytest.approx(100 * (1.5 - 1.0) / (4.0 - 1.0))
    # Parkinson on one bar with h/l = e: sqrt(1 / (4 ln 2))
    assert ind.parkinson_vol(pd.Series([math.e]), pd.Series([1.0]), 1).iloc[0] == pytest.approx(math.sqrt(1 / (4 * math.log(2))))
    # distance to a 2-bar SMA of 10, 12 is 12 / 11 - 1
    assert ind.distance_to_sma(pd.Series([10.0, 12.0]), 2).iloc[1] == pytest.approx(12 / 11 - 1)
    assert ind.momentum(pd.Series([10.0, 11.0, 12.0]), 2).iloc[2] == pytest.approx(0.2)


# ---- the formulas as slow loops, on random bars ------------------------------------------


def test_returns_zscore_momentum():
    f = frame()
    c = f["close"].tolist()
    for h in (1, 5, 20):
        close_to(ind.log_return(f["close"], h), [math.nan] * h + [math.log(c[i] / c[i - h]) for i in range(h, len(c))])
    r = ind.log_return(f["close"]).tolist()
    slow = [math.nan] * 20 + [(r[i] - statistics.mean(r[i - 19 : i + 1])) / statistics.stdev(r[i - 19 : i + 1]) for i in range(20, len(r))]
    z = ind.rolling_zscore(pd.Series(r), 20)
    assert math.isnan(z.iloc[19])  # the window still holds the first NaN return
    close_to(z, slow)
    close_to(ind.momentum(f["close"], 10), [math.nan] * 10 + [c[i] / c[i - 10] - 1 for i in range(10, len(c))])


def test_rsi_is_wilders():
    f = frame()
    c = f["close"].tolist()
    d = [math.nan] + [c[i] - c[i - 1] for i in range(1, len(c))]
    g = wilder_loop([math.nan] + [max(x, 0) for x in d[1:]], 14)
    l = wilder_loop([math.nan] + [max(-x, 0) for x in d[1:]], 14)
    slow = [math.nan if math.isnan(a) else 100 - 100 / (1 + a / b) for a, b in zip(g, l)]
    close_to(ind.rsi(f["close"], 14), slow)


def test_atr_pct():
    f = frame()
    h, l, c = (f[k].tolist() for k in ("high", "low", "close"))
    tr = [h[0] - l[0]] + [max(h[i] - l[i], abs(h[i] - c[i - 1]), abs(l[i] - c[i - 1])) for i in range(1, len(c))]
    atr = wilder_loop(tr, 14)
    close_to(ind.atr_pct(f["high"], f["low"], f["close"], 14), [a / ci for a, ci in zip(atr, c)])


def test_macd_as_fraction_of_price():
    f = frame()
    c = f["close"].tolist()
    line = [a - b for a, b in zip(ema_loop(c, 12), ema_loop(c, 26))]
    sig = ema_loop(line, 9)
    m = ind.macd(f["close"])
    valid = slice(33, None)
    close_to(m["macd"].iloc[valid], [x / ci for x, ci in zip(line, c)][valid])
    close_to(m["macd_signal"].iloc[valid], [x / ci for x, ci in zip(sig, c)][valid])
    close_to(m["macd_hist"].iloc[valid], [(a - b) / ci for a, b, ci in zip(line, sig, c)][valid])
    assert m.iloc[:33].isna().all().all()


def test_bollinger_population_std():
    f = frame()
    c = f["close"].tolist()
    pb, bw = [], []
    for i in range(len(c)):
        if i < 19:
            pb.append(math.nan), bw.append(math.nan)
            continue
        w = c[i - 19 : i + 1]
        mid, sd = statistics.mean(w), statistics.pstdev(w)
        pb.append((c[i] - (mid - 2 * sd)) / (4 * sd))
        bw.append(4 * sd / mid)
    b = ind.bollinger(f["close"], 20)
    close_to(b["bb_pctb"], pb)
    close_to(b["bb_width"], bw)


def test_stochastic():
    f = frame()
    h, l, c = (f[k].tolist() for k in ("high", "low", "close"))
    k = [math.nan] * 13 + [
        100 * (c[i] - min(l[i - 13 : i + 1])) / (max(h[i - 13 : i + 1]) - min(l[i - 13 : i + 1])) for i in range(13, len(c))
    ]
    d = [math.nan] * 15 + [statistics.mean(k[i - 2 : i + 1]) for i in range(15, len(c))]
    s = ind.stochastic(f["high"], f["low"], f["close"], 14, 3)
    close_to(s["stoch_k"], k)
    close_to(s["stoch_d"], d)


def test_aroon_against_window_scan():
    f = frame(200, seed=9)
    f["high"] = f["high"].round(1)  # ties: the latest extreme counts
    h, l = f["high"].tolist(), f["low"].round(1).tolist()
    up, down = [], []
    for i in range(len(h)):
        if i < 25:
            up.append(math.nan), down.append(math.nan)
            continue
        wh, wl = h[i - 25 : i + 1], l[i - 25 : i + 1]
        since_h = 25 - max(j for j, v in enumerate(wh) if v == max(wh))
        since_l = 25 - max(j for j, v in enumerate(wl) if v == min(wl))
        up.append(100 * (25 - since_h) / 25), down.append(100 * (25 - since_l) / 25)
    a = ind.aroon(f["high"], f["low"].round(1), 25)
    close_to(a["aroon_up"], up)
    close_to(a["aroon_down"], down)


def test_mfi():
    f = frame()
    tp = ((f["high"] + f["low"] + f["close"]) / 3).tolist()
    v = f["volume"].tolist()
    out = [math.nan] * 14
    for i in range(14, len(tp)):
        pos = sum(tp[j] * v[j] for j in range(i - 13, i + 1) if tp[j] > tp[j - 1])
        neg = sum(tp[j] * v[j] for j in range(i - 13, i + 1) if tp[j] < tp[j - 1])
        out.append(100 - 100 / (1 + pos / neg))
    close_to(ind.money_flow_index(f["high"], f["low"], f["close"], f["volume"], 14), out)


def test_bop_ibs_and_distance():
    f = frame()
    o, h, l, c = (f[k].to_numpy() for k in ("open", "high", "low", "close"))
    close_to(ind.balance_of_power(f["open"], f["high"], f["low"], f["close"]), (c - o) / (h - l))
    close_to(ind.internal_bar_strength(f["high"], f["low"], f["close"]), (c - l) / (h - l))
    cl = c.tolist()
    for n in (10, 50):
        close_to(
            ind.distance_to_sma(f["close"], n),
            [math.nan] * (n - 1) + [cl[i] / statistics.mean(cl[i - n + 1 : i + 1]) - 1 for i in range(n - 1, len(cl))],
        )


def test_volatility_estimators():
    f = frame()
    o, h, l, c = (f[k].tolist() for k in ("open", "high", "low", "close"))
    r = [math.nan] + [math.log(c[i] / c[i - 1]) for i in range(1, len(c))]
    close_to(ind.realized_vol(f["close"], 20), [math.nan] * 20 + [statistics.stdev(r[i - 19 : i + 1]) for i in range(20, len(c))])
    pk = [math.nan] * 19 + [
        math.sqrt(sum(math.log(h[j] / l[j]) ** 2 for j in range(i - 19, i + 1)) / (20 * 4 * math.log(2))) for i in range(19, len(c))
    ]
    close_to(ind.parkinson_vol(f["high"], f["low"], 20), pk)
    gk = [math.nan] * 19 + [
        math.sqrt(
            max(
                0.0,
                sum(0.5 * math.log(h[j] / l[j]) ** 2 - (2 * math.log(2) - 1) * math.log(c[j] / o[j]) ** 2 for j in range(i - 19, i + 1))
                / 20,
            )
        )
        for i in range(19, len(c))
    ]
    close_to(ind.garman_klass_vol(f["open"], f["high"], f["low"], f["close"], 20), gk)


def test_skew_and_kurtosis_are_sample_statistics():
    r = ind.log_return(frame(150)["close"])
    sk, ku = ind.rolling_skew(r, 60), ind.rolling_kurt(r, 60)
    for i in (60, 99, 149):
        w = r.iloc[i - 59 : i + 1].to_numpy()
        assert sk.iloc[i] == pytest.approx(stats.skew(w, bias=False), rel=1e-8)
        assert ku.iloc[i] == pytest.approx(stats.kurtosis(w, fisher=True, bias=False), rel=1e-8)
    assert math.isnan(sk.iloc[59])  # the first window holds the NaN first return


def test_bars_since_extreme_is_linear_and_exact_on_long_windows():
    x = np.random.default_rng(0).normal(size=5000).round(1)
    for n in (1, 7, 300):
        fast = ind.bars_since_extreme(x, n, True)
        slow = [math.nan] * n + [
            n - max(j for j, v in enumerate(x[i - n : i + 1]) if v == x[i - n : i + 1].max()) for i in range(n, len(x))
        ]
        close_to(fast, slow)
