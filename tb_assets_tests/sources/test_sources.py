"""Every source: sample (offline real data), csv, parquet (both layouts), synthetic."""

import numpy as np
import pandas as pd
import pytest

from tb_assets.core.data.validation import validate_bars
from tb_assets.core.errors import ConfigError, SourceError
from tb_assets.sources import make_source
from tb_assets.sources.synthetic import bar_times
from tb_assets_tests.conftest import minute_bars


def test_sample_source_has_real_index_data_offline():
    src = make_source("sample")
    assert src.list_symbols() == ["SPX", "IXIC", "VIX"]
    spx, _ = validate_bars(src.load("SPX").frame, symbol="SPX", origin="sample")
    assert len(spx) == 5031 and spx["ts"].iloc[0] == pd.Timestamp("1999-01-04", tz="UTC")
    # the 2008 crash is in there: real data, not a toy
    assert spx.set_index("ts")["close"].loc["2008-10"].min() < 900
    raw_vix = src.load("VIX")  # the bundled CBOE VIX, 1990-2026
    assert "vix-daily.csv" in raw_vix.origin and "ODC-PDDL-1.0" in raw_vix.origin
    vix, rep = validate_bars(raw_vix.frame, symbol="VIX", origin="sample", policy="repair")
    assert not rep.has_volume and len(vix) == 9235 and rep.ohlc_repaired == 47
    assert vix["ts"].iloc[0] == pd.Timestamp("1990-01-02", tz="UTC") and vix["ts"].iloc[-1] == pd.Timestamp("2026-07-23", tz="UTC")
    assert vix.set_index("ts")["high"].loc["2008-10"].max() > 80  # the 2008 panic
    with pytest.raises(SourceError, match="unknown symbol 'AAPL' in the sample source"):
        src.load("AAPL")


def yahoo_csv(path, df):
    out = pd.DataFrame(
        {
            "Date": df["ts"].dt.strftime("%Y-%m-%d"),
            "Open": df["open"],
            "High": df["high"],
            "Low": df["low"],
            "Close": df["close"],
            "Adj Close": df["close"] * 0.9,
            "Volume": df["volume"].astype(int),
        }
    )
    out.to_csv(path, index=False)


def daily(n=30, seed=0):
    d = minute_bars(n, seed=seed)
    d["ts"] = pd.bdate_range("2024-01-01", periods=n, tz="UTC")
    return d


def test_csv_source_reads_yahoo_files_case_insensitively(tmp_path):
    yahoo_csv(tmp_path / "aapl.csv", daily())
    src = make_source("csv", raw_dir=str(tmp_path))
    assert src.list_symbols() == ["AAPL"]
    raw = src.load("AAPL")
    bars, rep = validate_bars(raw.frame, symbol="AAPL", origin=raw.origin)
    assert raw.origin.endswith("aapl.csv") and len(bars) == 30 and rep.ignored_columns == ["Adj Close"]


def test_csv_headerless_semicolon_file(tmp_path):
    d = minute_bars(5)
    lines = [f"{t:%Y%m%d %H%M%S};{o};{h};{l};{c};{int(v)}" for t, o, h, l, c, v in d.itertuples(index=False)]
    (tmp_path / "SPY.csv").write_text("\n".join(lines) + "\n")
    bars, _ = validate_bars(make_source("csv", raw_dir=str(tmp_path)).load("SPY").frame, symbol="SPY", origin="f")
    assert bars["ts"].iloc[0] == pd.Timestamp("2024-01-02 14:30", tz="UTC") and len(bars) == 5


def test_csv_errors_name_the_file(tmp_path):
    src = make_source("csv", raw_dir=str(tmp_path))
    with pytest.raises(SourceError, match=r"no CSV file 'MSFT.csv' in .* \(found: nothing\)"):
        src.load("MSFT")
    (tmp_path / "EMPTY.csv").write_text("")
    with pytest.raises(SourceError, match=r"EMPTY.csv: the file is empty"):
        src.load("EMPTY")
    (tmp_path / "JUNK.csv").write_text("a,b\n1,2\n")
    with pytest.raises(SourceError, match=r"JUNK.csv: no header with known column names"):
        src.load("JUNK")
    with pytest.raises(ConfigError, match="TB_RAW_DIR"):
        make_source("csv")
    with pytest.raises(SourceError, match="is not a folder"):
        make_source("csv", raw_dir=str(tmp_path / "nope"))


def write_dt_layout(root, symbol, df):
    for day, g in df.groupby(df["ts"].dt.strftime("%Y-%m-%d")):
        folder = root / symbol / f"dt={day}"
        folder.mkdir(parents=True)
        g.to_parquet(folder / "part-0.parquet", index=False)


def test_parquet_symbol_folder_with_dt_partitions(tmp_path):
    two_days = pd.concat([minute_bars(30), minute_bars(30, start="2024-01-03 14:30", seed=2)], ignore_index=True)
    write_dt_layout(tmp_path, "SPY", two_days)
    write_dt_layout(tmp_path, "QQQ", minute_bars(10))
    src = make_source("parquet", raw_dir=str(tmp_path))
    assert src.list_symbols() == ["QQQ", "SPY"]
    raw = src.load("SPY")
    bars, _ = validate_bars(raw.frame, symbol="SPY", origin=raw.origin)
    assert len(bars) == 60 and "dt" not in bars.columns and "2 parquet file(s)" in raw.origin
    np.testing.assert_allclose(bars["close"], two_days["close"])


def test_parquet_hive_symbol_layout_any_depth(tmp_path):
    d = minute_bars(20)
    deep = tmp_path / "symbol=ES" / "year=2024" / "month=01"
    deep.mkdir(parents=True)
    d.iloc[:10].to_parquet(deep / "a.parquet", index=False)
    d.iloc[10:].to_parquet(deep / "b.parquet", index=False)
    raw = make_source("parquet", raw_dir=str(tmp_path)).load("ES")
    bars, _ = validate_bars(raw.frame, symbol="ES", origin=raw.origin)
    assert len(bars) == 20 and "symbol" not in raw.frame.columns


def test_parquet_reads_only_the_requested_symbol(tmp_path):
    write_dt_layout(tmp_path, "SPY", minute_bars(10))
    bad = tmp_path / "QQQ" / "dt=2024-01-02"
    bad.mkdir(parents=True)
    (bad / "part-0.parquet").write_bytes(b"PAR1 this is not parquet")
    src = make_source("parquet", raw_dir=str(tmp_path))
    assert len(src.load("SPY").frame) == 10  # QQQ's corrupt file is never opened
    with pytest.raises(SourceError, match=r"QQQ: cannot read parquet under .*QQQ.*dt=2024-01-02/part-0.parquet"):
        src.load("QQQ")


def test_parquet_missing_symbol_lists_what_exists(tmp_path):
    write_dt_layout(tmp_path, "SPY", minute_bars(3))
    with pytest.raises(SourceError, match=r"no parquet files for 'TSLA'.*symbols found: SPY"):
        make_source("parquet", raw_dir=str(tmp_path)).load("TSLA")


def test_synthetic_is_deterministic_correlated_and_valid():
    src = make_source("synthetic", synthetic_freq="1m", synthetic_bars=5000, synthetic_seed=7)
    a1, a2, b = src.load("AAA").frame, src.load("AAA").frame, src.load("BBB").frame
    pd.testing.assert_frame_equal(a1, a2)
    assert not np.allclose(a1["close"], b["close"])
    for frame in (a1, b):
        clean, rep = validate_bars(frame, symbol="S", origin="synthetic")
        assert rep.repaired_rows == 0 and len(clean) == 5000
    ra, rb = np.diff(np.log(a1["close"])), np.diff(np.log(b["close"]))
    # shocks load 0.6 on one market factor: corr(shocks) = 0.36, and GARCH keeps returns near that
    assert 0.25 < np.corrcoef(ra, rb)[0, 1] < 0.5
    other_seed = make_source("synthetic", synthetic_freq="1m", synthetic_bars=5000, synthetic_seed=8).load("AAA").frame
    assert not np.allclose(a1["close"], other_seed["close"])


def momentum_hit_rate(close: np.ndarray) -> float:
    r = np.diff(np.log(close))
    past = np.convolve(r, np.ones(5), "valid")[:-1]  # sum of r[t-5..t-1]
    nxt = r[5:]
    return float(np.mean(np.sign(past) == np.sign(nxt)))


def test_synthetic_signal_is_plantable_and_zero_means_random_walk():
    flat = make_source("synthetic", synthetic_bars=20000, synthetic_signal=0.0).load("X").frame
    planted = make_source("synthetic", synthetic_bars=20000, synthetic_signal=0.3).load("X").frame
    assert abs(momentum_hit_rate(flat["close"].to_numpy()) - 0.5) < 0.015
    assert momentum_hit_rate(planted["close"].to_numpy()) > 0.56


def test_synthetic_bars_end_before_now_with_their_defaults():
    """5,000 daily bars from 2010 ran to 2029: every partition was refused as dated in the future.
    Bars that would pass today end on the last weekday before it; bars that fit keep their start
    (a seed gives the same bars on any day)."""
    from tb_assets.sources.synthetic import start_before_now

    now = pd.Timestamp("2026-12-07 09:00", tz="UTC")
    for freq, n in (("1d", 5000), ("1w", 2000), ("1m", 2_000_000), ("1h", 60_000)):
        start = start_before_now(freq, n, pd.Timestamp("2010-01-04", tz="UTC"), now)
        times = bar_times(freq, n, start)
        assert times[-1] < now.normalize() and times[-1] > now - pd.Timedelta(days=10), (freq, times[-1])
    assert start_before_now("1d", 500, pd.Timestamp("2010-01-04", tz="UTC"), now) == pd.Timestamp("2010-01-04", tz="UTC")
    frame = make_source("synthetic").load("SYN1").frame  # the defaults: valid today
    clean, _ = validate_bars(frame, symbol="SYN1", origin="synthetic")
    assert len(clean) == 5000 and clean["ts"].iloc[-1] < pd.Timestamp.now(tz="UTC")


def test_a_future_bar_names_its_source():
    frame = make_source("synthetic", synthetic_bars=50).load("SYN1").frame
    frame.loc[49, "ts"] = pd.Timestamp("2099-01-05", tz="UTC")
    from tb_assets.core.errors import BarsValidationError

    with pytest.raises(BarsValidationError, match=r"the source synthetic\(freq=1d.*dates them after now"):
        validate_bars(frame, symbol="SYN1", origin=make_source("synthetic").describe())


def test_synthetic_timestamps_skip_nights_and_weekends():
    t = bar_times("5m", 200, pd.Timestamp("2024-01-05", tz="UTC"))  # a Friday
    assert t[0] == pd.Timestamp("2024-01-05 14:30", tz="UTC")
    assert t[77] == pd.Timestamp("2024-01-05 20:55", tz="UTC")  # the last bar of a 390-minute session
    assert t[78] == pd.Timestamp("2024-01-08 14:30", tz="UTC")  # Monday
    assert (t.dayofweek < 5).all()
    with pytest.raises(ConfigError):
        make_source("synthetic", synthetic_signal=1.5)
    with pytest.raises(ConfigError, match="unknown TB_SOURCE"):
        make_source("ftp")
