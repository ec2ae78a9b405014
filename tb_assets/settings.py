"""The environment-variable contract (DESIGN §3), read once when definitions load.

Everything has a default so the project runs offline with no configuration.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tb_assets.core.errors import ConfigError
from tb_assets.core.data.symbols import parse_symbol_list
from tb_assets.core.data.timeframes import parse_timeframe_list
from tb_assets.sources import SOURCE_KINDS



def find_project_root(start: Path | None = None) -> Path:
    """The folder holding dagster.yaml: the checkout the package was installed from (editable
    install), else the nearest one above the working directory, else the working directory."""
    package_parent = Path(__file__).resolve().parent.parent
    if (package_parent / "dagster.yaml").is_file():
        return package_parent
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "dagster.yaml").is_file() and (folder / "workspace.yaml").is_file():
            return folder
    return here


PROJECT_ROOT = find_project_root()

DEFAULT_TIMEFRAMES = "1d,1w"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    source: str
    raw_dir: str | None
    symbols: tuple[str, ...]
    timeframes: tuple[str, ...]
    context_symbols: tuple[str, ...]
    source_tz: str
    synthetic_freq: str
    synthetic_bars: int
    synthetic_seed: int
    synthetic_signal: float
    optuna_storage: str | None = None

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def artifacts_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def optuna_dir(self) -> Path:
        return self.data_dir / "optuna"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value.strip() if value and value.strip() else default


def _number(name: str, default: str, kind: type):
    text = _env(name, default)
    try:
        return kind(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a valid {kind.__name__}") from None


def load_settings() -> Settings:
    source = (_env("TB_SOURCE", "sample") or "sample").lower()
    if source not in SOURCE_KINDS:
        raise ConfigError(f"TB_SOURCE={source!r}: choose from {', '.join(SOURCE_KINDS)}")
    raw_dir = _env("TB_RAW_DIR")
    default_symbols, default_context = _default_universe(source, raw_dir)
    symbols = parse_symbol_list(_env("TB_SYMBOLS", default_symbols) or "", what="TB_SYMBOLS")
    context_text = _env("TB_CONTEXT_SYMBOLS", default_context)
    no_context = not context_text or context_text.lower() == "none"
    context = [] if no_context else parse_symbol_list(context_text, what="TB_CONTEXT_SYMBOLS")
    return Settings(
        data_dir=Path(_env("TB_DATA_DIR", str(PROJECT_ROOT / "data"))).expanduser().resolve(),
        source=source,
        raw_dir=raw_dir,
        symbols=tuple(symbols),
        timeframes=tuple(parse_timeframe_list(_env("TB_TIMEFRAMES", DEFAULT_TIMEFRAMES))),
        context_symbols=tuple(context),
        source_tz=_env("TB_SOURCE_TZ", "UTC"),
        synthetic_freq=_env("TB_SYNTHETIC_FREQ", "1d"),
        synthetic_bars=_number("TB_SYNTHETIC_BARS", "5000", int),
        synthetic_seed=_number("TB_SYNTHETIC_SEED", "0", int),
        synthetic_signal=_number("TB_SYNTHETIC_SIGNAL", "0.0", float),
        optuna_storage=_env("TB_OPTUNA_STORAGE"),
    )


def _default_universe(source: str, raw_dir: str | None) -> tuple[str, str]:
    """Default primary and context symbols for a source when TB_SYMBOLS is not set."""
    if source == "sample":
        from tb_assets.sources.sample import DEFAULT_CONTEXT, DEFAULT_PRIMARY

        return ",".join(DEFAULT_PRIMARY), ",".join(DEFAULT_CONTEXT)
    if source == "synthetic":
        from tb_assets.sources.synthetic import DEFAULT_CONTEXT, DEFAULT_SYMBOLS

        return ",".join(DEFAULT_SYMBOLS), ",".join(DEFAULT_CONTEXT)
    # parquet / csv: every symbol found in TB_RAW_DIR
    if not raw_dir:
        raise ConfigError(f"TB_SOURCE={source} needs TB_RAW_DIR, the folder that holds your {source} files")
    from tb_assets.sources import make_source

    found = make_source(source, raw_dir=raw_dir).list_symbols() or []
    if not found:
        raise ConfigError(f"TB_RAW_DIR={raw_dir!r} holds no {source} data; set TB_SYMBOLS or add files")
    return ",".join(found), ""


def apply_default_environment() -> Path:
    """Set DAGSTER_HOME and TB_DATA_DIR for this process when the user did not.

    dagster.yaml reads TB_DATA_DIR; the instance lives in the project root (DESIGN §3).
    """
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    os.environ.setdefault("TB_DATA_DIR", str(PROJECT_ROOT / "data"))
    data_dir = Path(os.environ["TB_DATA_DIR"]).expanduser().resolve()
    os.environ["TB_DATA_DIR"] = str(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    return data_dir
