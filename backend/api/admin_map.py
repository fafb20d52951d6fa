from flask import Blueprint

bp = Blueprint("admin_map", __name__, url_prefix="/admin")
