"""What the command line draws (kmix.cli.display): the progress line of EM restarts."""

from __future__ import annotations

import io

import numpy as np


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_line_redraws_on_a_terminal_and_logs_on_a_pipe() -> None:
    """Reference: one line per finished restart on a pipe; carriage returns on a terminal."""
    from kmix.cli.display import ProgressLine
    from kmix.solvers.em.loop import EMProgress

    def step(restart: int, iteration: int, value: float) -> EMProgress:
        return EMProgress(restart, iteration, value, np.array([0.5, 0.5]))

    pipe = io.StringIO()
    progress = ProgressLine(pipe, n_init=2)
    for restart in range(2):
        for iteration, value in enumerate([-10.0, -9.0, -8.5]):
            progress(step(restart, iteration, value - restart))
    progress.close()
    lines = pipe.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("EM restart 1/2") and "iteration    2" in lines[0]
    assert "log-likelihood -9.500000" in lines[1] and "change 5.00e-01" in lines[1]

    terminal = _Terminal()
    live = ProgressLine(terminal, n_init=1)
    live(step(0, 0, -3.0))
    live.close()
    assert terminal.getvalue().startswith("\rEM restart 1/1 [####################]")
    assert terminal.getvalue().endswith("\n")

    quiet = io.StringIO()
    silent = ProgressLine(quiet, n_init=1, enabled=False)
    silent(step(0, 0, -1.0))
    silent.close()
    assert quiet.getvalue() == ""
