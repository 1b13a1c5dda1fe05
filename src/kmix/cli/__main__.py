"""``python -m kmix.cli``: the same as the ``kmix`` command."""

from .app import main

raise SystemExit(main())
