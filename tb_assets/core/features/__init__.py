"""The feature matrix: indicators, regimes, the multi-symbol matrix and the look-ahead test."""
