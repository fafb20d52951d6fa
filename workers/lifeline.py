"""The pipe from the resident worker to its supervisor: which RQ worker it runs, which job it is on.

The worker writes one JSON line per event; the supervisor reads them without ever blocking. A pipe, not
Redis, so the supervisor still knows what its worker is doing while Redis is down, and a worker stuck in C
code (holding the GIL, deaf to signals) has nothing to do for the supervisor to see it stuck: its last word
was "busy since …".
"""

import contextlib
import json
import os
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Busy:
    """The job the worker started; `timeout` is the job's own (seconds, -1 for none)."""

    worker_name: str
    job_id: str
    queue: str
    execution_id: str
    timeout: int
    since: float  # time.monotonic() in the supervisor when it heard of it


class LifelineWriter:
    """The worker's end (a file descriptor inherited from the supervisor)."""

    def __init__(self, fd: int):
        self.fd = fd

    def _send(self, **message) -> None:
        # one line is far below PIPE_BUF, so each write is atomic; a supervisor gone means we die with it anyway
        with contextlib.suppress(OSError):
            os.write(self.fd, (json.dumps(message) + "\n").encode())

    def ready(self, worker_name: str) -> None:
        self._send(event="ready", worker=worker_name)

    def busy(self, worker_name: str, job_id: str, queue: str, execution_id: str, timeout: int) -> None:
        self._send(event="busy", worker=worker_name, job=job_id, queue=queue, execution=execution_id, timeout=timeout)

    def idle(self) -> None:
        self._send(event="idle")


class LifelineReader:
    """The supervisor's end: `read()` takes whatever has arrived and keeps the worker's latest state."""

    def __init__(self, fd: int):
        os.set_blocking(fd, False)
        self.fd = fd
        self.pending = b""
        self.worker_name: str | None = None
        self.busy: Busy | None = None
        self.jobs_done = 0

    def read(self) -> list[dict]:
        """The messages that arrived since the last call (none when the worker is silent or gone)."""
        chunks = []
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except BlockingIOError:
                break
            if not chunk:  # the worker closed its end: it exited
                break
            chunks.append(chunk)
        lines = (self.pending + b"".join(chunks)).split(b"\n")
        self.pending = lines.pop()
        messages = []
        for line in lines:
            with contextlib.suppress(ValueError):
                messages.append(json.loads(line))
        for message in messages:
            self._apply(message)
        return messages

    def _apply(self, message: dict) -> None:
        event = message.get("event")
        if event == "ready":
            self.worker_name = message["worker"]
            self.busy = None
        elif event == "busy":
            self.worker_name = message["worker"]
            self.busy = Busy(
                message["worker"],
                message["job"],
                message["queue"],
                message["execution"],
                int(message["timeout"]),
                time.monotonic(),
            )
        elif event == "idle":
            self.busy = None
            self.jobs_done += 1

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
