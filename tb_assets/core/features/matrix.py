"""The feature matrix: each symbol's indicators, its context symbols' indicators, regimes.

One row per bar of the primary symbol (after warm-up) whose timestamp every context symbol
also has (inner join). Context columns carry a `_SYMBOL` suffix. Raw price levels never
appear; each column belongs to one group that tells the training service how to scale it:

- regime:   categorical (regimes, calendar)
- robust:   heavy-tailed, positive (volatilities, volume z-score, kurtosis)
- bounded:  oscillators on a fixed scale (RSI, stochastic, Aroon, %b, IBS ...)
- standard: returns, z-scores, distances, MACD as a fraction of price
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tb_assets.core.data.time_index import epoch_ns
from tb_assets.core.data.timeframes import INTRADAY
from tb_assets.core.errors import ConfigError
from tb_assets.core.features import indicators as ind
from tb_assets.core.features.regimes import RV_WINDOW, VIX_WINDOW, gmm_schedule, regime_gmm, regime_vix
from tb_assets.core.features.rolling import bars_to_forget, rolling_mean_std

GROUPS = ("regime", "robust", "bounded", "standard")
FEATURE_SETS = ("core", "full")
VIX_SYMBOLS = ("VIX", "^VIX")
RAW_PRICE_RE = re.compile(r"^(open|high|low|close|vwap|adj_close)(_.+)?$", re.IGNORECASE)


@dataclass(frozen=True)
class Spec:
    group: str
    # rows from the series start before the value no longer depends on where the series starts:
    # a window's length, or for a recursive average the bars its seed needs to weigh < 1e-9
    warmup: int
    core: bool = False  # part of the small `core` set
    volume: bool = False  # needs traded volume
    family: str = ""  # computed together with the other columns of its family


WILDER_14 = 14 + bars_to_forget(1 - 1 / 14)  # seeded with a 14-bar mean, then decays by 13/14 a bar
MACD_WARMUP = bars_to_forget(1 - 2 / 27) + 9  # the slow EMA (span 26) forgets, then the signal's 9 bars
# name -> spec. Families compute several columns at once (MACD, Bollinger, stochastic, Aroon).
# regime_gmm's warm-up depends on the timeframe: see warmup_of.
SPECS: dict[str, Spec] = {
    "ret_1": Spec("standard", 1, core=True),
    "ret_5": Spec("standard", 5, core=True),
    "ret_10": Spec("standard", 10),
    "ret_20": Spec("standard", 20, core=True),
    "zret_20": Spec("standard", 20, core=True),
    "mom_10": Spec("standard", 10),
    "rsi_14": Spec("bounded", 1 + WILDER_14, core=True),
    "atr_pct_14": Spec("robust", WILDER_14, core=True),
    "macd": Spec("standard", MACD_WARMUP, family="macd"),
    "macd_signal": Spec("standard", MACD_WARMUP, family="macd"),
    "macd_hist": Spec("standard", MACD_WARMUP, core=True, family="macd"),
    "bb_pctb_20": Spec("bounded", 19, core=True, family="bb"),
    "bb_width_20": Spec("robust", 19, family="bb"),
    "stoch_k_14": Spec("bounded", 13, core=True, family="stoch"),
    "stoch_d_14": Spec("bounded", 15, family="stoch"),
    "aroon_up_25": Spec("bounded", 25, family="aroon"),
    "aroon_down_25": Spec("bounded", 25, family="aroon"),
    "aroon_osc_25": Spec("bounded", 25, family="aroon"),
    "bop": Spec("bounded", 0),
    "ibs": Spec("bounded", 0, core=True),
    "mfi_14": Spec("bounded", 14, volume=True),
    "dist_sma_10": Spec("standard", 9),
    "dist_sma_20": Spec("standard", 19, core=True),
    "dist_sma_50": Spec("standard", 49, core=True),
    "dist_sma_200": Spec("standard", 199),
    "rv_20": Spec("robust", 20, core=True),
    "parkinson_20": Spec("robust", 19),
    "gk_20": Spec("robust", 19),
    "volume_z_20": Spec("robust", 19, core=True, volume=True),
    "skew_60": Spec("standard", 60),
    "kurt_60": Spec("robust", 60),
    "dow": Spec("regime", 0, core=True),
    "hour": Spec("regime", 0, core=True),
    "regime_gmm": Spec("regime", 0),
}
# regime_vix is added by build_feature_matrix when a VIX context symbol is available
REGIME_VIX = "regime_vix"


def warmup_of(name: str, timeframe: str) -> int:
    """The declared warm-up of one per-symbol feature at this timeframe (regime_gmm's is at least
    this: its rows wait for the first checkpoint with a full window, see symbol_features)."""
    if name == "regime_gmm":
        return RV_WINDOW + gmm_schedule(timeframe).window
    return SPECS[name].warmup


@dataclass(frozen=True)
class FeatureOptions:
    """Which features to compute: a named set, optionally narrowed to some groups."""

    feature_set: str = "full"
    groups: tuple[str, ...] = ()  # empty: every group

    def __post_init__(self):
        if self.feature_set not in FEATURE_SETS:
            raise ConfigError(f"unknown feature set {self.feature_set!r}: choose from {', '.join(FEATURE_SETS)}")
        bad = [g for g in self.groups if g not in GROUPS]
        if bad:
            raise ConfigError(f"unknown feature group(s) {', '.join(bad)}: choose from {', '.join(GROUPS)}")

    def wants(self, name: str, group: str, core: bool) -> bool:
        in_set = self.feature_set == "full" or core
        return in_set and (not self.groups or group in self.groups)


def select_features(options: FeatureOptions, *, timeframe: str, has_volume: bool, context: bool) -> list[str]:
    """The per-symbol feature names these options produce for one symbol."""
    names = []
    for name, spec in SPECS.items():
        if not options.wants(name, spec.group, spec.core):
            continue
        if spec.volume and not has_volume:
            continue  # an index or VIX: volume indicators are left out, not filled with noise
        if name == "hour" and timeframe not in INTRADAY:
            continue
        if name == "dow" and timeframe == "1w":
            continue  # weekly bars all start on Monday: a constant
        if context and name in ("dow", "hour", "regime_gmm"):
            continue  # calendar and regimes describe the primary's bars, once
        names.append(name)
    return names


def has_traded_volume(bars: pd.DataFrame) -> bool:
    v = bars["volume"].to_numpy("float64") if "volume" in bars.columns else np.array([np.nan])
    return bool(np.isfinite(v).any() and np.nansum(v) > 0)


def _families(bars: pd.DataFrame, timeframe: str) -> dict[str, Callable[[], Mapping[str, pd.Series | np.ndarray]]]:
    o, h, l, c = (bars[k].astype("float64", copy=False) for k in ("open", "high", "low", "close"))
    v = bars["volume"].astype("float64", copy=False)
    log_close = np.log(c.to_numpy())  # once, for every return horizon
    ret1 = pd.Series(ind.log_returns(log_close, 1), index=c.index)

    @functools.cache
    def return_moments() -> tuple[np.ndarray, np.ndarray]:  # zret_20, rv_20 and regime_gmm's input: once
        return rolling_mean_std(ret1.to_numpy(), RV_WINDOW, ddof=1)

    def realized_vol() -> np.ndarray:
        return return_moments()[1]

    def macd():
        m = ind.macd(c)
        return {"macd": m["macd"], "macd_signal": m["macd_signal"], "macd_hist": m["macd_hist"]}

    def bb():
        b = ind.bollinger(c, 20)
        return {"bb_pctb_20": b["bb_pctb"], "bb_width_20": b["bb_width"]}

    def stoch():
        s = ind.stochastic(h, l, c, 14, 3)
        return {"stoch_k_14": s["stoch_k"], "stoch_d_14": s["stoch_d"]}

    def aroon():
        a = ind.aroon(h, l, 25)
        return {"aroon_up_25": a["aroon_up"], "aroon_down_25": a["aroon_down"], "aroon_osc_25": a["aroon_osc"]}

    def gmm():
        rv = realized_vol()
        return {"regime_gmm": regime_gmm(bars["ts"], ret1.to_numpy(), rv, gmm_schedule(timeframe))}

    ns = epoch_ns(bars["ts"])
    day = ns // 86_400_000_000_000  # days since 1970-01-01, a Thursday (dayofweek 3)
    return {
        "ret_1": lambda: {"ret_1": ret1},
        "ret_5": lambda: {"ret_5": ind.log_returns(log_close, 5)},
        "ret_10": lambda: {"ret_10": ind.log_returns(log_close, 10)},
        "ret_20": lambda: {"ret_20": ind.log_returns(log_close, 20)},
        "zret_20": lambda: {"zret_20": ind.rolling_zscore(ret1, RV_WINDOW, return_moments())},
        "mom_10": lambda: {"mom_10": ind.momentum(c, 10)},
        "rsi_14": lambda: {"rsi_14": ind.rsi(c, 14)},
        "atr_pct_14": lambda: {"atr_pct_14": ind.atr_pct(h, l, c, 14)},
        "macd": macd,
        "bb": bb,
        "stoch": stoch,
        "aroon": aroon,
        "bop": lambda: {"bop": ind.balance_of_power(o, h, l, c)},
        "ibs": lambda: {"ibs": ind.internal_bar_strength(h, l, c)},
        "mfi_14": lambda: {"mfi_14": ind.money_flow_index(h, l, c, v, 14)},
        "dist_sma_10": lambda: {"dist_sma_10": ind.distance_to_sma(c, 10)},
        "dist_sma_20": lambda: {"dist_sma_20": ind.distance_to_sma(c, 20)},
        "dist_sma_50": lambda: {"dist_sma_50": ind.distance_to_sma(c, 50)},
        "dist_sma_200": lambda: {"dist_sma_200": ind.distance_to_sma(c, 200)},
        "rv_20": lambda: {"rv_20": realized_vol()},
        "parkinson_20": lambda: {"parkinson_20": ind.parkinson_vol(h, l, 20)},
        "gk_20": lambda: {"gk_20": ind.garman_klass_vol(o, h, l, c, 20)},
        "volume_z_20": lambda: {"volume_z_20": ind.rolling_zscore(v, 20)},
        "skew_60": lambda: {"skew_60": ind.rolling_skew(ret1, 60)},
        "kurt_60": lambda: {"kurt_60": ind.rolling_kurt(ret1, 60)},
        "dow": lambda: {"dow": ((day + 3) % 7).astype("float64")},
        "hour": lambda: {"hour": ((ns // 3_600_000_000_000) % 24).astype("float64")},
        "regime_gmm": gmm,
    }


def symbol_features(bars: pd.DataFrame, names: list[str], timeframe: str) -> tuple[pd.DataFrame, int]:
    """The named features of one symbol's bars, with the warm-up rows cut off.

    Returns the frame (column `ts` first) and the warm-up: how many leading rows are cut. The
    cut is the declared warm-ups' maximum, or regime_gmm's first label when that comes later; it
    depends on bars before it only, so a prefix of the bars gives a prefix of the rows.
    """
    if not (isinstance(bars.index, pd.RangeIndex) and bars.index.start == 0 and bars.index.step == 1):
        bars = bars.reset_index(drop=True)
    families = _families(bars, timeframe)
    cols: dict[str, np.ndarray] = {}
    done: set[str] = set()
    for name in names:
        fam = SPECS[name].family or name
        if fam in done:
            continue
        done.add(fam)
        for col, values in families[fam]().items():
            if col in names:
                cols[col] = np.asarray(values, dtype="float64")
    warmup = max((warmup_of(n, timeframe) for n in names), default=0)
    if "regime_gmm" in cols:
        labelled = np.flatnonzero(~np.isnan(cols["regime_gmm"]))
        warmup = max(warmup, int(labelled[0]) if len(labelled) else len(bars))
    # views of the computed columns, one block each (copy=False): a million rows of 34 features
    # are never copied into one block (fresh memory costs more than the copy itself)
    ts = pd.DatetimeIndex(bars["ts"])[warmup:]
    frame = pd.DataFrame({"ts": ts, **{n: cols[n][warmup:] for n in names}}, copy=False)
    return frame, warmup


@dataclass
class FeatureMatrix:
    frame: pd.DataFrame  # `ts` + features
    groups: dict[str, str]  # feature -> group
    context_used: list[str] = field(default_factory=list)
    context_skipped: dict[str, str] = field(default_factory=dict)  # symbol -> why
    warmup_rows: int = 0
    rows_before_join: int = 0
    volume_missing: list[str] = field(default_factory=list)  # symbols whose volume indicators were left out

    @property
    def features(self) -> list[str]:
        return [c for c in self.frame.columns if c != "ts"]


def build_feature_matrix(
    primary: pd.DataFrame,
    contexts: Mapping[str, pd.DataFrame],
    *,
    timeframe: str,
    options: FeatureOptions = FeatureOptions(),
    context_skipped: Mapping[str, str] | None = None,
) -> FeatureMatrix:
    """Features of `primary` bars plus each context symbol's, inner-joined on `ts`.

    `contexts` maps a symbol to its bars at the same timeframe; a context whose bars share no
    timestamp with the primary is skipped (and said why), never a crash.
    """
    skipped = dict(context_skipped or {})
    no_volume = []
    primary_volume = has_traded_volume(primary)
    if not primary_volume:
        no_volume.append("primary")
    names = select_features(options, timeframe=timeframe, has_volume=primary_volume, context=False)
    frame, warmup = symbol_features(primary, names, timeframe)
    groups = {n: SPECS[n].group for n in names}
    rows_before = len(frame)
    used: list[str] = []
    for symbol, bars in contexts.items():
        vol = has_traded_volume(bars)
        ctx_names = select_features(options, timeframe=timeframe, has_volume=vol, context=True)
        ctx, _ = symbol_features(bars, ctx_names, timeframe)
        ctx = ctx.rename(columns={n: f"{n}_{symbol}" for n in ctx_names})
        extra: dict[str, str] = {}
        if symbol.upper() in VIX_SYMBOLS and (not options.groups or "regime" in options.groups):
            vix = pd.DataFrame({"ts": pd.DatetimeIndex(bars["ts"]), REGIME_VIX: regime_vix(bars["close"].astype("float64")).to_numpy()})
            vix = vix.iloc[VIX_WINDOW:]  # its warm-up: the terciles need a full window of earlier closes
            ctx = ctx.merge(vix, on="ts", how="inner")
            extra[REGIME_VIX] = "regime"
        joined = frame.merge(ctx, on="ts", how="inner")
        if joined.empty:
            skipped[symbol] = "no timestamp in common with the primary after warm-up"
            continue
        if not vol:
            no_volume.append(symbol)
        frame = joined
        groups.update({f"{n}_{symbol}": SPECS[n].group for n in ctx_names})
        groups.update(extra)
        used.append(symbol)
    bad = [c for c in frame.columns if RAW_PRICE_RE.match(c)]
    if bad:  # a programming error, never user data: fail loudly
        raise AssertionError(f"raw price columns in the feature matrix: {bad}")
    if not (isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0):
        frame = frame.reset_index(drop=True)
    return FeatureMatrix(
        frame=frame,
        groups=groups,
        context_used=used,
        context_skipped=skipped,
        warmup_rows=warmup,
        rows_before_join=rows_before,
        volume_missing=no_volume,
    )


def raw_price_columns(columns) -> list[str]:
    """Columns named like a raw price (open/high/low/close/vwap, with or without a suffix)."""
    return [c for c in columns if RAW_PRICE_RE.match(str(c))]


RAW_PRICE_COLUMNS = ("open", "high", "low", "close", "vwap")  # what price_copies compares against


def price_copies(features: pd.DataFrame, bars: pd.DataFrame) -> list[str]:
    """Feature columns whose values equal a raw price column of the bars on (almost) every row."""
    joined = features.merge(bars[["ts", *[c for c in RAW_PRICE_COLUMNS if c in bars.columns]]], on="ts", suffixes=("", "__bar"))
    if joined.empty:
        return []
    hits = []
    for col in (c for c in features.columns if c != "ts"):
        x = joined[col].to_numpy("float64")
        for price in RAW_PRICE_COLUMNS:
            p = joined.get(f"{price}__bar" if price in features.columns else price)
            if p is not None and np.mean(np.isclose(x, p.to_numpy("float64"), rtol=1e-12, atol=0)) > 0.99:
                hits.append(f"{col} (= {price})")
    return hits
