"""`python -m uvmsim.cli`: the same command line as the `uvmsim` script."""

from uvmsim.cli import main

main()
