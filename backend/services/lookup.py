"""Loading a row by id for an administrator, or the API's 404 with a code that names what was missing."""

from backend.errors import NotFound
from backend.extensions import db


def get_or_404(model, ident: int, message: str, code: str):
    row = db.session.get(model, ident)
    if row is None:
        raise NotFound(message, code=code)
    return row
