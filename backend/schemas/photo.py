from marshmallow import Schema, fields

from backend.services.media import photos


class PhotoRefOut(Schema):
    """A photo as anyone sees it: signed, expiring links to the EXIF-free copies only."""

    id = fields.Integer()
    url = fields.Function(lambda photo: photos.signed_url(photo, "display"))
    thumb_url = fields.Function(lambda photo: photos.signed_url(photo, "thumb"))


class PhotoThumbOut(Schema):
    """A photo in a list item: the thumbnail only (the full copy comes with the case itself)."""

    id = fields.Integer()
    thumb_url = fields.Function(lambda photo: photos.signed_url(photo, "thumb"))


class PhotoUploadedOut(PhotoRefOut):
    width = fields.Integer()
    height = fields.Integer()
