"""`python -m codemm.cli`."""

from codemm.cli import main

main()
