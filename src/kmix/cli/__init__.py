"""The ``kmix`` command line: ``demo``, ``fit``, ``simulate`` and ``predict``.

``main(argv)`` is the console-script entry point; it returns the exit status.
"""

from .app import build_parser, main

__all__ = ["build_parser", "main"]
