"""`python -m repro`: the same command line as `repro`."""

from repro.cli import main

main()
