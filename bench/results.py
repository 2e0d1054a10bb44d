"""bench/RESULTS.md: each benchmark script rewrites its own ``## ...`` section."""

from __future__ import annotations

from pathlib import Path


def write_section(path: Path, section: str) -> None:
    """Replace (or append) the section of ``path`` headed by ``section``'s first line."""
    heading = section.splitlines()[0]
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    start = text.find(heading + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + 1)
        text = text[:start] + section + ("" if end < 0 else text[end + 1 :])
    path.write_text(text)


def same_as_bare(eq: float, n: int, ref_eq: float, ref_n: int) -> str:
    """Return the note saying whether a result (final equity, trade count) is the bare loop's."""
    ok = n == ref_n and abs(eq - ref_eq) <= 1e-6 * abs(ref_eq)
    return " (same as the bare loop)" if ok else " (**differs from the bare loop**)"
