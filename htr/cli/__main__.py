"""`python -m htr.cli ...`: the `htr` command without its entry point."""
import sys

from htr.cli import main

sys.exit(main())
