"""`python -m pyfw`: the pyfw command."""
import sys

from .cli import main

sys.exit(main())
