"""Bars, timeframes and symbols: what comes in and how it is validated and resampled."""
