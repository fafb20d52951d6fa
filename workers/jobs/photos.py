from backend.extensions import db
from backend.services.media import photos


def process_photo(photo_id: int) -> str:
    """Make the display copy and thumbnail of one photo. Safe to run twice."""
    photo = photos.process(photo_id)
    db.session.commit()
    return "missing" if photo is None else str(photo.status)
