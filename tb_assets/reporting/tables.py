"""Tables people read: markdown for the UI's metadata, aligned text for the terminal."""

from __future__ import annotations


def markdown_table(df, max_rows: int = 10, float_format: str = "{:.4g}") -> str:
    """A small markdown table for metadata previews (no tabulate dependency)."""
    head = df.head(max_rows)
    cols = [str(c) for c in head.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in head.itertuples(index=False):
        cells = [float_format.format(v) if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def text_table(header: tuple[str, ...] | list[str], rows: list) -> str:
    """Left-aligned columns for a terminal, a dashed rule under the header."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])
