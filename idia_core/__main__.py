"""``python -m idia_core``: the command line (``idia_core.cli``)."""
import os
import sys

from .cli.main import main

try:
    code = main()
    sys.stdout.flush()
except BrokenPipeError:
    # the reader stopped early (`... | head`): as Python's docs advise, point stdout at devnull so
    # the interpreter's own flush at exit does not raise again, and leave quietly
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    code = 0
sys.exit(code)
