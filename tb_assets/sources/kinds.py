"""The source kinds TB_SOURCE names and the symbols each offers by default: plain values, so the
settings read them without loading pandas."""

SOURCE_KINDS = ("sample", "parquet", "csv", "synthetic")

# (primary symbols, context symbols) when TB_SYMBOLS / TB_CONTEXT_SYMBOLS are unset. Here, not in the
# sources' modules, so reading the settings loads no pandas. The sample's VIX covers every SPX/IXIC
# day, so as the context it costs the indices no history and gives them its indicators and
# regime_vix; VIX partitions (a symbol is never its own context) keep 1990-2026.
DEFAULT_UNIVERSE = {"sample": (("SPX", "IXIC", "VIX"), ("VIX",)), "synthetic": (("SYN1", "SYN2"), ("SYN0",))}
