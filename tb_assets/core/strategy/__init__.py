"""The strategy layer: bet sizes from probabilities (AFML ch. 10), combinatorial purged CV
backtest paths (ch. 12), and the statistics that say whether a Sharpe ratio survives the number
of things tried (PSR, DSR, minimum track record length, PBO by CSCV).

Notebook use: `from tb_assets.core.strategy import bet_size, deflated_sharpe_ratio, ...`.
"""

from tb_assets.core.strategy.bet_sizing import average_active_sizes, bet_size, discretize_size
from tb_assets.core.strategy.cpcv import CombinatorialPurgedKFold
from tb_assets.core.strategy.overfitting import probability_of_backtest_overfitting
from tb_assets.core.strategy.sharpe import (
    deflated_sharpe_ratio,
    expected_maximum_sharpe,
    minimum_track_record_length,
    probabilistic_sharpe_ratio,
    sharpe_ratio,
)

__all__ = [
    "CombinatorialPurgedKFold",
    "average_active_sizes",
    "bet_size",
    "deflated_sharpe_ratio",
    "discretize_size",
    "expected_maximum_sharpe",
    "minimum_track_record_length",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_ratio",
]
