"""Jobs for tests that run `python -m workers` as a process (importable by its worker processes)."""

import ctypes
import os
import resource
import signal
import time
from pathlib import Path


def nap(seconds: float, pid_file: str) -> int:
    """Write the pid of the process running the job, then take a while."""
    Path(pid_file).write_text(str(os.getpid()))
    time.sleep(seconds)
    return os.getpid()


def die(how: str, pid_file: str) -> None:
    """Take the process running the job down: `exit` as os._exit does, `segfault` as a crash in C does."""
    Path(pid_file).write_text(str(os.getpid()))
    if how == "exit":
        os._exit(3)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file
    ctypes.string_at(0)  # reads address 0: SIGSEGV


def hang(pid_file: str) -> None:
    """Never return, deaf to RQ's timeout (SIGALRM), like C code that never comes back to Python."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    with open(pid_file, "a") as out:
        out.write(f"{os.getpid()}\n")
    time.sleep(3600)


def database_connection() -> list:
    """[the process's pid, the database connection it used]: PostgreSQL's backend pid, or the identity of
    SQLite's connection object."""
    from backend.extensions import db

    if db.engine.dialect.name == "postgresql":
        connection = db.session.scalar(db.text("SELECT pg_backend_pid()"))
    else:
        connection = id(db.session.connection().connection.dbapi_connection)
    return [os.getpid(), connection]


_held: list[bytes] = []


def hold_memory(megabytes: int) -> int:
    """Keep this many megabytes alive in the process after the job (a leak)."""
    _held.append(b"\x01" * (megabytes * 2**20))
    return os.getpid()


def mark_app_context() -> bool:
    """Whether an earlier job's mark is still in `g` (it must not be: one app context per job)."""
    from flask import g

    seen = "job_mark" in g
    g.job_mark = True
    return seen
