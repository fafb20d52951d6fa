"""Outbound HTTP with one deadline for the whole call, the answer included."""

import time

import requests
from urllib3.exceptions import HTTPError, ReadTimeoutError

# No service we call answers with more than a few kilobytes; a bigger answer is not one of theirs.
MAX_ANSWER_BYTES = 1 << 20
READ_STEP = 64 * 1024


class DeadlineSession(requests.Session):
    """A session whose calls end within their `timeout`, however slowly the server sends its answer.

    requests' timeout bounds each wait on the socket, not the call: a server that sends its headers and then a
    byte every few seconds kept a call, and the worker running it, busy until the job's own timeout (two
    minutes), while routing and every other job waited. Here the body is read as it arrives against one
    deadline, `timeout` seconds after the call began (a last wait on the socket can add one `timeout` more).
    The status line and headers are read by requests as before, each line within `timeout`.
    """

    def request(self, method, url, *args, **kwargs):
        timeout = kwargs.get("timeout")
        parts = timeout if isinstance(timeout, tuple) else (timeout,)
        if None in parts or kwargs.get("stream"):  # no deadline asked for, or the caller reads the body itself
            return super().request(method, url, *args, **kwargs)
        deadline = time.monotonic() + sum(parts)
        response = super().request(method, url, *args, **{**kwargs, "stream": True})
        chunks, size = [], 0
        try:
            while chunk := response.raw.read1(READ_STEP, decode_content=True):
                size += len(chunk)
                if size > MAX_ANSWER_BYTES:
                    raise requests.ConnectionError(f"answer over {MAX_ANSWER_BYTES} bytes", response=response)
                if time.monotonic() > deadline:
                    raise requests.Timeout(f"no complete answer within {timeout} s", response=response)
                chunks.append(chunk)
        except ReadTimeoutError as exc:  # urllib3's errors, as requests itself maps them
            raise requests.Timeout(str(exc), response=response) from exc
        except (HTTPError, OSError) as exc:
            raise requests.ConnectionError(str(exc), response=response) from exc
        finally:
            response.close()
        # what Response.content would hold after reading the body itself
        response._content = b"".join(chunks)
        response._content_consumed = True
        return response
