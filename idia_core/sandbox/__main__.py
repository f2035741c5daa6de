"""``python -m idia_core.sandbox SUBCOMMAND`` — the sandbox command without the core CLI."""
import sys

from .cli import main

sys.exit(main())
