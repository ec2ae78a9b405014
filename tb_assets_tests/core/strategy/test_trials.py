"""Every tuning trial traded like the strategy: complete trials side by side for PBO, pruned ones
for the Sharpe variance, a trial that stopped at its first fold left out."""

import numpy as np
import pandas as pd

from tb_assets.core.modeling.calibration import choose_calibration
from tb_assets.core.strategy.bet_sizing import bet_size
from tb_assets.core.strategy.sharpe import sharpe_ratio
from tb_assets.core.strategy.trades import Costs, bar_returns, build_trades
from tb_assets.core.strategy.trials import sized_events, trade_trials


def test_complete_trials_share_the_panel_and_pruned_ones_only_count_their_sharpe():
    rng = np.random.default_rng(0)
    n_bars, n = 3000, 2000
    ts = pd.date_range("2020-01-01", periods=n_bars, freq="1h", tz="UTC")
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.003, n_bars)))
    bars = pd.DataFrame({"ts": ts, "open": close * np.exp(rng.normal(0, 0.001, n_bars)), "close": close})
    at = np.sort(rng.choice(n_bars - 12, n, replace=False))
    up = (close[at + 10] > close[at]).astype(int)
    rows = pd.DataFrame({"ts": ts[at], "t1": ts[at + 10], "y": up, "fold": np.repeat(np.arange(4), n // 4)})
    skilled = np.clip(0.5 + 0.2 * (up - 0.5) + rng.normal(0, 0.1, n), 0.01, 0.99)
    pruned = rng.uniform(0.2, 0.8, n)
    pruned[rows["fold"] >= 2] = np.nan  # stopped after two folds
    first_only = rng.uniform(0.2, 0.8, n)
    first_only[rows["fold"] >= 1] = np.nan
    predictions = {0: skilled, 1: rng.uniform(0.2, 0.8, n), 2: pruned, 3: first_only}
    costs, sizing = Costs(), lambda p: bet_size(p)
    traded = trade_trials(rows, predictions, bars, costs, sizing)
    assert sorted(traded.sharpe.index) == [0, 1, 2]  # one fold cannot be calibrated cross-fitted
    assert list(traded.panel.columns) == [0, 1]  # the complete trials, on the same bars
    assert traded.sharpe[0] > traded.sharpe[1]  # the skilled trial trades better than the coin
    # trial 0's returns, recomputed the documented way: calibrated by fold, sized, traded after costs
    _, proba = choose_calibration(skilled, up, rows["fold"].to_numpy())
    returns = bar_returns(build_trades(sized_events(rows["ts"], rows["t1"], proba, sizing), bars, costs), bars)
    np.testing.assert_allclose(traded.panel[0].to_numpy(), returns["net_return"].to_numpy(), atol=0)
    assert traded.sharpe[0] == sharpe_ratio(returns["net_return"])
