"""The request class: uploads parsed into memory, in large steps."""

import io
from typing import IO

from flask import Request as FlaskRequest
from werkzeug.formparser import FormDataParser, MultiPartParser

# werkzeug reads a multipart body 64 KiB at a time; gunicorn's reader holds up to 1 MiB read ahead and copies
# what it still holds on every read, so each byte of a 4 MB photo was copied some 16 times. Reading 256 KiB at a
# time cuts that by four. It must stay well under MAX_FORM_MEMORY_SIZE (Flask's 500 KB), which werkzeug's decoder
# applies to every chunk it is given (413 beyond).
MULTIPART_READ_SIZE = 256 * 1024


class _FormDataParser(FormDataParser):
    def _parse_multipart(self, stream: IO[bytes], mimetype: str, content_length: int | None, options: dict):
        # werkzeug's own method (3.1) with the read size set; the rest is unchanged
        parser = MultiPartParser(
            stream_factory=self.stream_factory,
            max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts,
            cls=self.cls,
            buffer_size=MULTIPART_READ_SIZE,
        )
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class Request(FlaskRequest):
    """Multipart file parts stay in memory instead of werkzeug's temporary file for parts over 500 KB.

    The whole body is bounded by MAX_CONTENT_LENGTH (a photo's 20 MB and a little more; werkzeug answers 413
    beyond it, also for a chunked body), and an upload is read into memory once anyway (SHA-256, the header
    check, storage): a temporary file only added a write and a read of every byte to each large upload.
    """

    form_data_parser_class = _FormDataParser

    def _get_file_stream(
        self,
        total_content_length: int | None,
        content_type: str | None,
        filename: str | None = None,
        content_length: int | None = None,
    ) -> IO[bytes]:
        return io.BytesIO()
