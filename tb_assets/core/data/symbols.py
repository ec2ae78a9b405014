"""Symbol names: the only user text that reaches file paths and SQL, so it is validated strictly."""

from __future__ import annotations

import re

from tb_assets.core.errors import ConfigError

# Letters, digits and . - _ ^ (e.g. BRK.B, ^GSPC, EUR_USD). No '/', '|', quotes or spaces.
_SYMBOL_RE = re.compile(r"^[A-Za-z0-9.\-_^]{1,32}$")


def validate_symbol(symbol: str) -> str:
    """Return the canonical (upper-case) symbol or raise ConfigError naming it."""
    if not isinstance(symbol, str):
        raise ConfigError(f"symbol must be a string, got {symbol!r}")
    s = symbol.strip()
    if not _SYMBOL_RE.match(s):
        raise ConfigError(
            f"invalid symbol {symbol!r}: use 1-32 letters, digits or . - _ ^ "
            "(no path separators, '|', quotes or spaces)"
        )
    if set(s) == {"."} or ".." in s:
        raise ConfigError(f"invalid symbol {symbol!r}: '..' could traverse a path")
    return s.upper()


def is_symbol(name: str) -> bool:
    """Whether `name` is a valid symbol (see validate_symbol)."""
    try:
        validate_symbol(name)
    except ConfigError:
        return False
    return True


def parse_symbol_list(text: str, *, what: str = "symbols") -> list[str]:
    """Parse a comma list like 'SPX, IXIC' into validated unique symbols (order kept)."""
    out: list[str] = []
    for part in text.split(","):
        if not part.strip():
            continue
        sym = validate_symbol(part)
        if sym not in out:
            out.append(sym)
    if not out:
        raise ConfigError(f"{what}: the list {text!r} names no symbol")
    return out
