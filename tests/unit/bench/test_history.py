"""A new bench report keeps the hand-written History section of the previous one."""

from __future__ import annotations

from pathlib import Path

from bench.__main__ import kept_history


def test_the_history_section_is_carried_over(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    assert kept_history(report) == ""
    report.write_text("# Benchmarks\n| old table |\n\n## History\n\n| before | after |\n")
    assert kept_history(report) == "\n## History\n\n| before | after |\n"
    report.write_text("# Benchmarks\n| no history yet |\n")
    assert kept_history(report) == ""
