"""Photo bytes behind one small interface: a local folder now, object storage later."""

import os
import tempfile
from pathlib import Path

from flask import current_app


class LocalStorage:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"key escapes the storage root: {key!r}")
        return path

    def save(self, key: str, data: bytes) -> None:
        """Write atomically, so a reader never sees half a file."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str | None) -> bool:
        return bool(key) and self.path(key).is_file()

    def delete(self, key: str) -> None:
        """Remove a file; one already gone is fine (deleting twice is harmless)."""
        self.path(key).unlink(missing_ok=True)


def init_storage(app) -> None:
    app.extensions["storage"] = LocalStorage(app.config["MEDIA_ROOT"])


def get_storage() -> LocalStorage:
    return current_app.extensions["storage"]
