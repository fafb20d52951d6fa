"""Maps: the regions and pins in the coordinate system of the configured tiles (CONSOLE_TILE_COORD), converted
on the server with services/responsibility/geo.py; with no tile URL the map shows them on a blank background."""

import json

from flask import current_app, jsonify, url_for

from backend.console import bp
from backend.console.session import console_login_required
from backend.services.responsibility import geo, regions


def display_point(location: dict) -> tuple[float, float]:
    """A case's location (as the staff schema dumps it) in the map's coordinate system."""
    return geo.convert(location["lat"], location["lng"], location["coord"], current_app.config["CONSOLE_TILE_COORD"])


def map_attributes(pins: list[dict]) -> dict:
    """The data-* attributes of a map element (static/map.js draws it): tiles, the regions' address and the pins,
    each pin {"location": staff-schema location, "label": text, "url": optional link}."""
    points = []
    for pin in pins:
        lat, lng = display_point(pin["location"])
        points.append({"lat": lat, "lng": lng, "label": pin.get("label", ""), "url": pin.get("url", "")})
    config = current_app.config
    return {
        "data-map": "1",
        "data-tiles": config["CONSOLE_TILE_URL"],
        "data-attribution": config["CONSOLE_TILE_ATTRIBUTION"],
        "data-regions": url_for("console.map_regions"),
        "data-pins": json.dumps(points, ensure_ascii=False),
    }


@bp.get("/map/regions.json")
@console_login_required()
def map_regions():
    return jsonify(regions.for_display(current_app.config["CONSOLE_TILE_COORD"]))


@bp.app_template_global()
def map_element_attributes(pins: list[dict]) -> dict:
    return map_attributes(pins)
