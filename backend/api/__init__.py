from flask import Blueprint, Flask


def register_blueprints(app: Flask) -> None:
    from backend.api import (
        admin,
        admin_calendar,
        admin_map,
        admin_regions,
        admin_staff,
        admin_supervision,
        auth,
        citizen,
        media,
        rewards,
        spec,
        stats,
        unit,
    )

    api = Blueprint("api", __name__, url_prefix="/api/v1")
    modules = (
        auth,
        citizen,
        unit,
        admin,
        admin_map,
        admin_regions,
        admin_calendar,
        admin_supervision,
        admin_staff,
        rewards,
        stats,
        spec,
    )
    for module in modules:
        api.register_blueprint(module.bp)
    app.register_blueprint(api)
    app.register_blueprint(media.bp)
