"""Plain-text tables in the layout of Kafka's command-line tools."""

from __future__ import annotations

from collections.abc import Sequence

Cell = str | int | float | None


def format_cell(value: Cell) -> str:
    """`-` for a missing value, as `kafka-consumer-groups` prints it."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> str:
    """Left-aligned columns separated by two spaces, with a header line."""
    cells = [[format_cell(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    for row in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(line.rstrip() for line in lines)
