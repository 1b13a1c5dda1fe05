"""Running ``kmix`` in-process and reading numbers off its output."""

from __future__ import annotations

import re

import pytest

from kmix.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def number(text: str, label: str) -> float:
    match = re.search(rf"^\s*{re.escape(label)}\s+(-?\d+\.\d+)", text, flags=re.MULTILINE)
    assert match is not None, f"{label!r} not found in output:\n{text}"
    return float(match.group(1))


def assert_one_error_line(outcome: tuple[int, str, str], status: int, message: str) -> None:
    """One ``kmix: error:`` line matching ``message`` on stderr, nothing on stdout, ``status``."""
    got, out, err = outcome
    assert got == status
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("kmix: error: ")
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in err and out == ""
