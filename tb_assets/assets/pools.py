"""Dagster concurrency pools (a name here; a limit only where a user sets one)."""

# Steps that read the bar source (bars, and features for its context symbols) join this pool. It
# has no limit: the warehouse takes any number of writers. A team whose source is a rate-limited
# vendor API or a slow shared disk caps it: `dagster instance concurrency set bar_source 4`.
SOURCE_POOL = "bar_source"
