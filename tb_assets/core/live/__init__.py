"""The live layer's statistics: features and probabilities of new bars from the tail of history
their warm-up needs (equal to a full recompute's), and, next to them, realized performance and
drift monitoring. Plain functions on frames; no dagster import."""
