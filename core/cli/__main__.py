"""``python -m core.cli``: the ``sanmin`` command where no console script is installed."""

from core.cli.main import main

main()
