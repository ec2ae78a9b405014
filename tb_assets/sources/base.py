"""The contract every source fulfils."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class RawBars:
    """A vendor frame for one symbol, before validation, and where it came from."""

    symbol: str
    frame: pd.DataFrame
    origin: str  # file, folder or data set, for error messages and metadata


class BarSource(ABC):
    name: str

    @abstractmethod
    def load(self, symbol: str) -> RawBars:
        """Raw bars of `symbol`; raise SourceError naming the symbol and place if there are none."""

    @abstractmethod
    def list_symbols(self) -> list[str] | None:
        """Symbols this source holds, or None when it can make any symbol (synthetic)."""

    def describe(self) -> str:
        return self.name

    def ignored_entries(self) -> list[str]:
        """Files or folders of the input whose names are not valid symbols (`AAA (1).csv`): listed
        by `tb partitions`, never a symbol, never an error that stops every command."""
        return []

    def watched_files(self, symbol: str) -> list:
        """The files whose change means new bars for `symbol` (the new-data sensor watches them);
        none for sources that are not files (sample, synthetic)."""
        return []
