"""Live features from the tail of history equal a full recompute's, bar by bar."""

import numpy as np
import pandas as pd
import pytest

from tb_assets.core.errors import TbError
from tb_assets.core.features.matrix import build_feature_matrix
from tb_assets.core.live.tail import EVERY_FEATURE, TAIL_FACTOR, declared_warmup, live_features, tail_start
from tb_assets.sources.synthetic import synthetic_bars

START = pd.Timestamp("2019-01-07")


def bars(symbol, freq, n, seed=1):
    return synthetic_bars(symbol, freq, n, seed, 0.2, START)


def assert_same(live, full, since):
    expected = full.loc[full["ts"] > since].reset_index(drop=True)
    assert list(live["ts"]) == list(expected["ts"])
    for name in live.columns[1:]:
        np.testing.assert_allclose(live[name], expected[name], rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize(("freq", "n"), [("1d", 1400), ("1w", 900), ("15m", 9000)])
def test_tail_features_equal_a_full_recompute(freq, n):
    primary, vix, other = bars("SYN", freq, n), bars("VIX", freq, n, 2), bars("QQQ", freq, n, 3)
    other = other.drop(index=np.arange(n - 400, n, 7))  # a context with holes: rows join as in `features`
    contexts = {"VIX": vix, "QQQ": other}
    full = build_feature_matrix(primary, contexts, timeframe=freq, options=EVERY_FEATURE).frame
    names = [c for c in full.columns if c != "ts"]
    assert "regime_gmm" in names and "regime_vix" in names and "ret_1_QQQ" in names
    for cut in (n - 300, n - 41, n - 1):  # bars after the cut are new
        since = primary["ts"].iloc[cut]
        live = live_features(primary, contexts, freq, names, since)
        assert_same(live, full, since)
        assert tail_start(primary["ts"], cut + 1, freq) > 0  # a tail, not all history


def test_the_tail_is_bounded_by_the_warm_up_not_the_history():
    primary = bars("SYN", "1d", 3000)
    first = 2990
    start = tail_start(primary["ts"], first, "1d")
    # the longest warm-up, or the GMM's window before its checkpoint (four weeks back at most), twice
    assert first - start <= TAIL_FACTOR * max(declared_warmup("1d"), 252 + 20 + 20)
    assert first - start >= TAIL_FACTOR * declared_warmup("1d")


def test_no_new_bars_and_missing_features():
    primary = bars("SYN", "1d", 800)
    live = live_features(primary, {}, "1d", ["ret_1"], primary["ts"].iloc[-1])
    assert live.empty and list(live.columns) == ["ts", "ret_1"]
    with pytest.raises(TbError, match="ret_1_QQQ"):
        live_features(primary, {}, "1d", ["ret_1", "ret_1_QQQ"], primary["ts"].iloc[-5])
