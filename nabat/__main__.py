"""Allow ``python -m nabat``."""

from nabat.cli import main

main()
