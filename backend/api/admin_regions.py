from flask import Blueprint

bp = Blueprint("admin_regions", __name__, url_prefix="/admin")
