"""Photo copies behind signed, expiring URLs: the mini-program's <image> sends no Authorization."""

from flask import Blueprint, request, send_file

from backend.api.spec import doc
from backend.schemas.shapes import SIGNED_URL_QUERY
from backend.services.media import photos

bp = Blueprint("media", __name__, url_prefix="/media")


@bp.get("/photos/<int:photo_id>/<variant>.jpg")
@doc(
    query=SIGNED_URL_QUERY,
    response={"type": "string", "format": "binary"},
    content_type="image/jpeg",
    public=True,
    errors={404: "not_found link_expired photo_unavailable", 503: "photo_processing"},
)
def photo(photo_id: int, variant: str):
    path = photos.file_for_signed_request(
        photo_id, variant, request.args.get("expires", ""), request.args.get("sig", "")
    )
    return send_file(path, mimetype="image/jpeg", max_age=3600, conditional=True)
