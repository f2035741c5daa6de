"""``python -m idia_core``: the command line (``idia_core.cli``)."""
import sys

from .cli.main import main

sys.exit(main())
