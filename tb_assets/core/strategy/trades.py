"""Trades of a sized event stream, after costs, and the strategy's return per bar.

One trade per event. The event's features used its bar's close, so the trade enters at the
**next bar's open** (a fill on the event bar itself would use a price the model could not have
acted on) and exits at the close of the bar where the event's label ended (`t1`). An event on
the last bar (no next bar yet) or whose label ended on its own bar cannot be traded: it is
counted, never silently dropped.

Costs are paid on both sides, on the notional traded: `cost_bps` per side plus half the bid-ask
spread (crossing it to enter and again to exit), fixed (`half_spread_bps`) or estimated for each
bar from its high and low (`spread_model='corwin_schultz'`, core.strategy.spread, with
`half_spread_bps` as its floor). With size s (the fraction of capital, in [0, 1]), entry price e
at entry bar i and exit price x at exit bar j, and the one-side rate r of a bar:

    gross_return = side * s * (x / e - 1)
    cost         = s * r_i + s * r_j * x / e      r = cost_bps / 10,000 + half spread
    net_return   = gross_return - cost

The strategy's return per bar combines the trades open at that bar the way AFML 10.2 averages
active bets: capital is split equally among them, each earning its signed size times its own
return on the bar (close over open on its entry bar, close over the previous close after that)
less its costs on its entry and exit bars. A bar with nothing open earns 0 (cash). Computed in
O(bars + trades) with running sums.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tb_assets.core.errors import TbError

TRADE_COLUMNS = (
    "ts",
    "t1",
    "side",
    "proba",
    "size",
    "entry_ts",
    "exit_ts",
    "entry_price",
    "exit_price",
    "gross_return",
    "cost",
    "net_return",
)


SPREAD_MODELS = ("fixed", "corwin_schultz")


@dataclass(frozen=True)
class Costs:
    cost_bps: float = 2.0  # commission and fees, per side, in basis points of the notional
    half_spread_bps: float = 0.0  # half the bid-ask spread, paid on entry and on exit (corwin_schultz: its floor)
    spread_model: str = "fixed"  # 'corwin_schultz': each bar's half spread estimated from its high and low
    spread_window: int = 20  # bars the Corwin-Schultz estimate averages over

    def __post_init__(self):
        for name in ("cost_bps", "half_spread_bps"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0.0 <= value < 10_000.0):
                raise TbError(f"costs: {name} must be in [0, 10000) basis points, got {value!r}")
        if self.spread_model not in SPREAD_MODELS:
            raise TbError(f"costs: spread_model must be one of {', '.join(SPREAD_MODELS)}, got {self.spread_model!r}")

    def side_rates(self, bars: pd.DataFrame) -> np.ndarray:
        """What one side of a trade costs at each bar, as a fraction of the notional traded there."""
        fixed = (self.cost_bps + self.half_spread_bps) / 10_000.0
        if self.spread_model == "fixed":
            return np.full(len(bars), fixed)
        from tb_assets.core.strategy.spread import corwin_schultz_spread

        half = corwin_schultz_spread(bars["high"], bars["low"], self.spread_window) / 2.0
        return self.cost_bps / 10_000.0 + np.maximum(half, self.half_spread_bps / 10_000.0)


@dataclass
class Trades:
    table: pd.DataFrame  # TRADE_COLUMNS, one row per traded event
    untradable: int  # events with no bar after them, or whose label ended on their own bar
    entry_bar: np.ndarray  # position in the bars of each trade's entry and exit bar
    exit_bar: np.ndarray
    entry_cost: np.ndarray  # what each side cost, as a fraction of capital (size x rate x notional)
    exit_cost: np.ndarray


def build_trades(events: pd.DataFrame, bars: pd.DataFrame, costs: Costs = Costs()) -> Trades:
    """Trades of `events` (indexed by event time, columns `t1`, `proba`, `side` in {-1, 0, 1} and
    `size` in [0, 1]) on `bars` (columns `ts`, `open`, `close`, sorted by `ts`)."""
    missing = [c for c in ("t1", "proba", "side", "size") if c not in events.columns]
    if missing:
        raise TbError(f"build_trades: events lack column(s) {', '.join(missing)}")
    size = events["size"].to_numpy(dtype="float64")
    side = events["side"].to_numpy(dtype="float64")
    if np.isnan(size).any() or (size < 0).any() or (size > 1).any():
        raise TbError("build_trades: sizes must be in [0, 1] (the side carries the sign)")
    if not np.isin(side, (-1.0, 0.0, 1.0)).all():
        raise TbError("build_trades: side must be -1, 0 or +1")
    bar_ts = _ns(bars["ts"])
    if len(bar_ts) > 1 and (np.diff(bar_ts) <= 0).any():
        raise TbError("build_trades: bars must be sorted by ts without duplicates")
    t0, t1 = _ns(events.index), _ns(events["t1"])
    entry = np.searchsorted(bar_ts, t0, side="right")  # the first bar after the event's bar
    exit_ = np.searchsorted(bar_ts, t1, side="left")  # the bar where the label ended
    tradable = (entry < len(bar_ts)) & (exit_ >= entry) & (exit_ < len(bar_ts))
    entry, exit_ = entry[tradable], exit_[tradable]
    opens, closes = bars["open"].to_numpy(dtype="float64"), bars["close"].to_numpy(dtype="float64")
    entry_price, exit_price = opens[entry], closes[exit_]
    s, d = size[tradable], side[tradable]
    move = exit_price / entry_price
    gross = d * s * (move - 1.0)
    rates = costs.side_rates(bars)
    entry_cost, exit_cost = s * rates[entry], s * rates[exit_] * move  # the exit side trades the notional grown by `move`
    cost = entry_cost + exit_cost
    ts = pd.DatetimeIndex(bars["ts"])  # indexing an index keeps its zone without a Timestamp per row
    table = pd.DataFrame(
        {
            "ts": events.index[tradable],
            "t1": pd.DatetimeIndex(events["t1"])[tradable],
            "side": d.astype("int8"),
            "proba": events["proba"].to_numpy(dtype="float64")[tradable],
            "size": s,
            "entry_ts": ts[entry],
            "exit_ts": ts[exit_],
            "entry_price": entry_price,
            "exit_price": exit_price,
            "gross_return": gross,
            "cost": cost,
            "net_return": gross - cost,
        }
    )
    return Trades(table, int((~tradable).sum()), entry, exit_, entry_cost, exit_cost)


def stored_trades(table: pd.DataFrame, bars: pd.DataFrame, costs: Costs, untradable: int = 0) -> Trades:
    """Trades read back from the warehouse, placed on `bars` again by their entry and exit times."""
    bar_ts = _ns(bars["ts"])
    entry, exit_ = np.searchsorted(bar_ts, _ns(table["entry_ts"])), np.searchsorted(bar_ts, _ns(table["exit_ts"]))
    inside = (entry < len(bar_ts)) & (exit_ < len(bar_ts))
    if not inside.all() or not (bar_ts[entry] == _ns(table["entry_ts"])).all() or not (bar_ts[exit_] == _ns(table["exit_ts"])).all():
        raise TbError("stored trades enter or exit at times that are not bars of the partition: materialize strategy_trades again")
    table = table.reset_index(drop=True)
    rates, size = costs.side_rates(bars), table["size"].to_numpy(dtype="float64")
    entry_cost = size * rates[entry]
    exit_cost = size * rates[exit_] * table["exit_price"].to_numpy() / table["entry_price"].to_numpy()
    if not np.allclose(entry_cost + exit_cost, table["cost"].to_numpy(), rtol=1e-9, atol=1e-15):
        raise TbError("stored trades were costed otherwise than these costs say: materialize strategy_trades again")
    return Trades(table, untradable, entry, exit_, entry_cost, exit_cost)


def bar_returns(trades: Trades, bars: pd.DataFrame) -> pd.DataFrame:
    """The strategy's net (and gross) return on every bar from the first entry to the last exit,
    with the number of trades open and the mean signed position (see the module's docstring)."""
    if trades.table.empty:
        return pd.DataFrame({"ts": bars["ts"].iloc[:0], "net_return": [], "gross_return": [], "open_trades": [], "position": []})
    n = len(bars)
    opens, closes = bars["open"].to_numpy(dtype="float64"), bars["close"].to_numpy(dtype="float64")
    signed = trades.table["side"].to_numpy(dtype="float64") * trades.table["size"].to_numpy()
    entry, exit_ = trades.entry_bar, trades.exit_bar

    def running(values: np.ndarray, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Sum over trades of `values` on every bar from `first` to `last` inclusive."""
        out = np.zeros(n + 1)
        np.add.at(out, first, values)
        np.add.at(out, last + 1, -values)
        return np.cumsum(out)[:n]

    def on(values: np.ndarray, bar: np.ndarray) -> np.ndarray:
        out = np.zeros(n)
        np.add.at(out, bar, values)
        return out

    held = running(signed, entry + 1, exit_)  # after its entry bar a trade earns close over the previous close
    entering = on(signed, entry)  # earns close/open on its entry bar
    count = running(np.ones(len(entry)), entry, exit_)
    previous_close = np.r_[np.nan, closes[:-1]]
    with np.errstate(invalid="ignore"):
        gross = entering * (closes / opens - 1.0) + np.where(held != 0.0, held * (closes / previous_close - 1.0), 0.0)
    paid = on(trades.entry_cost, entry) + on(trades.exit_cost, exit_)
    span = slice(int(entry.min()), int(exit_.max()) + 1)
    count, gross, paid = count[span], gross[span], paid[span]
    share = np.where(count > 0.5, 1.0 / np.maximum(count, 1.0), 0.0)
    position = running(signed, entry, exit_)[span] * share
    return pd.DataFrame(
        {
            "ts": pd.DatetimeIndex(bars["ts"])[span],
            "net_return": (gross - paid) * share,
            "gross_return": gross * share,
            "open_trades": np.rint(count).astype("int64"),
            "position": position,
        }
    )


def _ns(values) -> np.ndarray:
    index = pd.DatetimeIndex(values)
    if index.tz is not None:
        index = index.tz_convert("UTC").tz_localize(None)
    return index.as_unit("ns").asi8
