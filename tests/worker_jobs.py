"""Jobs for tests that run `python -m workers` as a process (importable by its work horses)."""

import os
import time
from pathlib import Path


def nap(seconds: float, pid_file: str) -> int:
    """Write the work horse's pid, then take a while."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(seconds)
    return os.getpid()
