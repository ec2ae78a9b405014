"""Champion and challenger: which production model version serves each partition, and the history
of every change with its evidence, in the registry's database (SQLite or PostgreSQL).

`aliases` holds the current holder of each alias per partition; `promotions` every change (a first
champion, a new challenger, a promotion by the gate with its paired test, a person's promote or
demote), never rewritten. A version that holds an alias gets a KEEP file in its folder, so pruning
never removes the model that serves signals.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from tb_assets.core.errors import TbError
from tb_assets.storage.databases import first_use

CHAMPION, CHALLENGER = "champion", "challenger"
SCHEMA_LOCK = 0x74625F61  # "tb_a": the alias tables' creation

_metadata = sa.MetaData()
ALIASES = sa.Table(
    "aliases",
    _metadata,
    sa.Column("symbol", sa.String(64), primary_key=True),
    sa.Column("timeframe", sa.String(8), primary_key=True),
    sa.Column("alias", sa.String(16), primary_key=True),
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("model_sha256", sa.String(64), nullable=False),
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
)
PROMOTIONS = sa.Table(
    "promotions",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("symbol", sa.String(64), nullable=False),
    sa.Column("timeframe", sa.String(8), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # champion, challenger, promoted, demoted, retired
    sa.Column("version", sa.String(64), nullable=False),
    sa.Column("replaced", sa.String(64), nullable=True),  # the version that held the alias before
    sa.Column("decided_by", sa.String(128), nullable=False),  # gate, first model, new model, person:NAME
    sa.Column("evidence", sa.JSON, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_promotions_partition", "symbol", "timeframe"),
)


@dataclass(frozen=True)
class Alias:
    alias: str
    version: str
    model_sha256: str
    since: datetime


@dataclass(frozen=True)
class Promotion:
    id: int
    symbol: str
    timeframe: str
    action: str
    version: str
    replaced: str | None
    decided_by: str
    evidence: dict
    at: datetime


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)  # SQLite keeps no zone: written in UTC


class ModelAliases:
    """The alias tables beside the model registry (same URL, made on first use)."""

    def __init__(self, engine: sa.Engine, url: str):
        self.engine, self.url = engine, url
        with first_use(url, SCHEMA_LOCK, name="aliases"):
            _metadata.create_all(engine, checkfirst=True)

    @contextlib.contextmanager
    def partition_lock(self, symbol: str, timeframe: str):
        """One change of a partition's aliases at a time (reading them, deciding, writing)."""
        key = int(hashlib.sha256(f"tb_assets aliases {symbol}|{timeframe}".encode()).hexdigest()[:15], 16)
        with first_use(self.url, key, name=f"aliases-{symbol}-{timeframe}", timeout=-1):
            yield

    def current(self, symbol: str, timeframe: str) -> dict[str, Alias]:
        with self.engine.connect() as con:
            rows = con.execute(sa.select(ALIASES).where(ALIASES.c.symbol == symbol, ALIASES.c.timeframe == timeframe))
            return {r.alias: Alias(r.alias, r.version, r.model_sha256, _utc(r.since)) for r in rows}

    def history(self, symbol: str | None = None, timeframe: str | None = None) -> list[Promotion]:
        query = sa.select(PROMOTIONS).order_by(PROMOTIONS.c.id)
        if symbol is not None:
            query = query.where(PROMOTIONS.c.symbol == symbol)
        if timeframe is not None:
            query = query.where(PROMOTIONS.c.timeframe == timeframe)
        with self.engine.connect() as con:
            return [Promotion(**{**dict(r._mapping), "at": _utc(r.at)}) for r in con.execute(query)]

    def change(
        self,
        symbol: str,
        timeframe: str,
        *,
        action: str,
        decided_by: str,
        evidence: dict,
        set_alias: tuple[str, str, str] | None = None,  # (alias, version, model_sha256)
        clear: tuple[str, ...] = (),
    ) -> None:
        """Set one alias and/or clear others, and record the change, in one transaction."""
        now = datetime.now(UTC)
        with self.engine.begin() as con:
            held = {
                r.alias: r.version
                for r in con.execute(sa.select(ALIASES).where(ALIASES.c.symbol == symbol, ALIASES.c.timeframe == timeframe))
            }
            for alias in clear:
                con.execute(
                    sa.delete(ALIASES).where(ALIASES.c.symbol == symbol, ALIASES.c.timeframe == timeframe, ALIASES.c.alias == alias)
                )
            version, replaced = None, None
            if set_alias is not None:
                alias, version, sha = set_alias
                replaced = held.get(alias)
                con.execute(
                    sa.delete(ALIASES).where(ALIASES.c.symbol == symbol, ALIASES.c.timeframe == timeframe, ALIASES.c.alias == alias)
                )
                con.execute(
                    sa.insert(ALIASES).values(symbol=symbol, timeframe=timeframe, alias=alias, version=version, model_sha256=sha, since=now)
                )
            elif clear:
                version = held.get(clear[0])
                if version is None:
                    raise TbError(f"{symbol}|{timeframe} has no {clear[0]} to {action}")
            con.execute(
                sa.insert(PROMOTIONS).values(
                    symbol=symbol,
                    timeframe=timeframe,
                    action=action,
                    version=version,
                    replaced=replaced,
                    decided_by=decided_by,
                    evidence=evidence,
                    at=now,
                )
            )
