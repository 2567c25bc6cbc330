"""The bench's headline figures and the report's one table of them.

Every part of the bench runs on a durable stack (PostgreSQL with fsync, synchronous_commit and
full_page_writes on: `make run`'s cluster) and, beside it, on an unsafe one (all three off: the test
suite's throw-away cluster). Each part lists its headline figures, one `Figure` per row; the table puts
the two stacks' values side by side and judges the target on the durable one.
"""

from __future__ import annotations

from dataclasses import dataclass

DURABLE, UNSAFE = "durable", "unsafe"
DURABILITIES = (DURABLE, UNSAFE)
SETTINGS = {
    DURABLE: "fsync, synchronous_commit and full_page_writes on, as `make run`'s cluster",
    UNSAFE: "fsync, synchronous_commit and full_page_writes off, as the test suite's throw-away cluster",
}
# what each durability must show (SHOW ...) on the running cluster, or the bench refuses to measure it
REQUIRED = {DURABLE: "on", UNSAFE: "off"}
DURABILITY_SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")


@dataclass(frozen=True)
class Figure:
    """One headline figure of one run: its name (the same on both stacks), its value as the report shows
    it, the target as text ('' for a figure shown for information) and whether the value meets it."""

    name: str
    shown: str
    target: str = ""
    ok: bool | None = None


def verdict(ok: bool | None) -> str:
    return "" if ok is None else "PASS" if ok else "MISS"


def headline_table(runs: dict[str, list[Figure]]) -> list[str]:
    """| Figure | durable | unsafe | target | result |: one row per figure of either run, in the order the
    parts list them; the result is the durable run's, or, with no durable run, the unsafe one's (so marked)."""
    judged = DURABLE if DURABLE in runs else UNSAFE
    by_name: dict[str, dict[str, Figure]] = {}
    for durability in DURABILITIES:
        for figure in runs.get(durability, []):
            by_name.setdefault(figure.name, {})[durability] = figure
    lines = ["| Figure | durable | unsafe | target | result |", "|---|---:|---:|---:|---|"]
    for name, figures in by_name.items():
        values = [figures[d].shown if d in figures else "—" for d in DURABILITIES]
        target = next((f.target for f in figures.values() if f.target), "")
        judged_figure = figures.get(judged)
        result = verdict(judged_figure.ok) if judged_figure else ""
        if result and judged == UNSAFE:
            result += " (unsafe: no durable run)"
        lines.append(f"| {name} | {values[0]} | {values[1]} | {target} | {result} |")
    return lines


def misses(runs: dict[str, list[Figure]]) -> list[str]:
    """The names of the durable run's figures that miss their targets."""
    return [f.name for f in runs.get(DURABLE, []) if f.ok is False]
