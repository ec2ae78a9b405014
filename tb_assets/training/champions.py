"""Which production model versions serve a partition: the champion (its signals are the partition's)
and a challenger scored in shadow until a paired test promotes it, or a person does.

The published production model joins on its own: the first one becomes the champion; a newer one
becomes the challenger (replacing an older challenger); one that held an alias before (a demoted
champion) does not come back unless a person promotes it. Every change is recorded with its
evidence (training.aliases), and a version holding an alias keeps a KEEP file so pruning spares it.
"""

from __future__ import annotations

from pathlib import Path

from tb_assets.core.errors import TbError
from tb_assets.storage import versions
from tb_assets.storage.records import ModelCard
from tb_assets.training.aliases import CHALLENGER, CHAMPION, ModelAliases


def _card(root: Path, symbol: str, timeframe: str, version: str) -> ModelCard:
    return ModelCard.load(root, symbol, timeframe, version=version)


def _keep(root: Path, symbol: str, timeframe: str, version: str, why: str | None) -> None:
    """Write (or, `why` None, remove) the KEEP file of a production model version."""
    folder = versions.version_folder(ModelCard.partition_folder(root, symbol, timeframe), version)
    if not folder.exists():
        return
    keep = folder / versions.KEEP_FILE
    if why is None:
        keep.unlink(missing_ok=True)
    else:
        keep.write_text(why + "\n")


def _held(aliases: ModelAliases, symbol: str, timeframe: str) -> dict[str, str]:
    return {name: a.version for name, a in aliases.current(symbol, timeframe).items()}


def _refresh_keeps(aliases: ModelAliases, root: Path, symbol: str, timeframe: str, before: dict[str, str]) -> None:
    after = _held(aliases, symbol, timeframe)
    for version in set(before.values()) - set(after.values()):
        _keep(root, symbol, timeframe, version, None)
    for alias, version in after.items():
        _keep(root, symbol, timeframe, version, f"{alias} of {symbol}|{timeframe}: serves signals (training.champions)")


def serving(aliases: ModelAliases, root: Path, symbol: str, timeframe: str, *, join: bool = True) -> tuple[ModelCard, ModelCard | None]:
    """The champion's card and the challenger's (or None), after the published production model joined;
    `join=False` only reads (a check): with no champion yet, the published model is the one that will be."""
    if not join:
        held = _held(aliases, symbol, timeframe)
        if CHAMPION not in held:
            return ModelCard.load(root, symbol, timeframe), None
        challenger = _card(root, symbol, timeframe, held[CHALLENGER]) if CHALLENGER in held else None
        return _card(root, symbol, timeframe, held[CHAMPION]), challenger
    with aliases.partition_lock(symbol, timeframe):
        before = _held(aliases, symbol, timeframe)
        published = ModelCard.load(root, symbol, timeframe)
        version = published.version
        if version is None:
            raise TbError(f"{symbol}|{timeframe}: the production model is in the flat layout of an earlier release: materialize it again")
        sha = published.artifact_sha256.get(ModelCard.MODEL, "")
        if CHAMPION not in before:
            aliases.change(
                symbol,
                timeframe,
                action=CHAMPION,
                decided_by="first model",
                evidence={"why": "no champion yet"},
                set_alias=(CHAMPION, version, sha),
            )
        elif version not in {p.version for p in aliases.history(symbol, timeframe)} and all(version > held for held in before.values()):
            # a version that ever held an alias (a demoted champion) does not come back on its own
            aliases.change(
                symbol,
                timeframe,
                action=CHALLENGER,
                decided_by="new model",
                evidence={"why": "a newer production model passed its blocking checks", "trained_until": str(published.trained_until)},
                set_alias=(CHALLENGER, version, sha),
            )
        _refresh_keeps(aliases, root, symbol, timeframe, before)
        held = _held(aliases, symbol, timeframe)
    champion = _card(root, symbol, timeframe, held[CHAMPION])
    challenger = _card(root, symbol, timeframe, held[CHALLENGER]) if CHALLENGER in held else None
    return champion, challenger


def promote(
    aliases: ModelAliases, root: Path, symbol: str, timeframe: str, *, decided_by: str, evidence: dict, version: str | None = None
) -> str:
    """Make `version` (default: the challenger) the champion; the champion it replaces is retired."""
    with aliases.partition_lock(symbol, timeframe):
        before = _held(aliases, symbol, timeframe)
        version = version or before.get(CHALLENGER)
        if version is None:
            raise TbError(f"{symbol}|{timeframe} has no challenger to promote: name a production_model version")
        if version == before.get(CHAMPION):
            raise TbError(f"{symbol}|{timeframe}: version {version} is already the champion")
        card = _card(root, symbol, timeframe, version)  # it exists and is a complete version
        aliases.change(
            symbol,
            timeframe,
            action="promoted",
            decided_by=decided_by,
            evidence=evidence,
            set_alias=(CHAMPION, version, card.artifact_sha256.get(ModelCard.MODEL, "")),
            clear=(CHALLENGER,) if before.get(CHALLENGER) == version else (),
        )
        _refresh_keeps(aliases, root, symbol, timeframe, before)
    return version


def demote(aliases: ModelAliases, root: Path, symbol: str, timeframe: str, *, decided_by: str, evidence: dict) -> str:
    """Give the champion's place back to the champion before it (the latest earlier one still on disk)."""
    with aliases.partition_lock(symbol, timeframe):
        before = _held(aliases, symbol, timeframe)
        current = before.get(CHAMPION)
        if current is None:
            raise TbError(f"{symbol}|{timeframe} has no champion to demote")
        earlier = [
            p.version
            for p in reversed(aliases.history(symbol, timeframe))
            if p.action in (CHAMPION, "promoted", "demoted") and p.version != current
        ]
        partition = ModelCard.partition_folder(root, symbol, timeframe)
        previous = next((v for v in earlier if versions.version_folder(partition, v).exists()), None)
        if previous is None:
            raise TbError(f"{symbol}|{timeframe}: no earlier champion is left on disk to give the place back to")
        card = _card(root, symbol, timeframe, previous)
        aliases.change(
            symbol,
            timeframe,
            action="demoted",
            decided_by=decided_by,
            evidence={**evidence, "demoted": current},
            set_alias=(CHAMPION, previous, card.artifact_sha256.get(ModelCard.MODEL, "")),
        )
        _refresh_keeps(aliases, root, symbol, timeframe, before)
    return previous
