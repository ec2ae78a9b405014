"""Models: training rows, purged CV, metrics, one estimator contract and fit path, selection, tuning, leakage, explanations."""
