"""``python -m ifgrasp.cli``: the same as the ``ifgrasp`` entry point."""

from ifgrasp.cli import main

main()
