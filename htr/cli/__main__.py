"""`python -m htr.cli ...`: the `htr` command without its entry point."""
import sys

from htr.cli import main

if __name__ == "__main__":
    sys.exit(main())
