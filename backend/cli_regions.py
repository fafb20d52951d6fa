"""Operator commands for the map: `flask --app wsgi import-regions FILE` and `export-regions FILE`."""

import json
import sys

import click
from flask import Flask

from backend.errors import NotFound, ValidationFailed
from backend.extensions import db
from backend.models import CoordSystem
from backend.services.actors import Actor
from backend.services.responsibility import regions


def _read_geojson(file) -> dict:
    name = getattr(file, "name", "FILE")
    try:
        return json.loads(file.read().decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{name} is not UTF-8 text: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise click.ClickException(
            f"{name} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc


def register_region_commands(app: Flask) -> None:
    @app.cli.command("import-regions")
    @click.argument("file", type=click.File("rb"))
    @click.option(
        "--coord",
        type=click.Choice([c.value for c in CoordSystem]),
        default=None,
        help='Coordinate system of the file, unless it says so itself (top-level "coord", or per feature).',
    )
    def import_regions(file, coord: str | None) -> None:
        """Create or update regions from a GeoJSON FeatureCollection (all or nothing)."""
        collection = _read_geojson(file)
        features = collection.get("features") if isinstance(collection, dict) else None
        total = len(features) if isinstance(features, list) else 0
        try:
            with click.progressbar(length=total, label="importing regions", file=sys.stderr) as bar:
                result = regions.import_regions(collection, coord, Actor.system(), progress=bar.update)
        except ValidationFailed as exc:
            db.session.rollback()
            click.echo(f"Error: {exc.message}; nothing was imported:", err=True)
            for problem in (exc.fields or {}).get("features", []):
                click.echo(f"  {problem}", err=True)
            click.get_current_context().exit(1)
        db.session.commit()
        click.echo(
            f"regions imported: {result['created']} created, {result['updated']} updated, "
            f"{result['unchanged']} unchanged ({result['total']} features)"
        )

    @app.cli.command("export-regions")
    @click.argument("file", type=click.File("w", encoding="utf-8", lazy=True))
    @click.option("--unit", "unit_code", default=None, help="Only the regions of this unit (its code).")
    def export_regions(file, unit_code: str | None) -> None:
        """Write the regions as a GeoJSON FeatureCollection (FILE "-" is standard output)."""
        try:
            unit_id = regions.find_unit(unit_code).id if unit_code else None
        except NotFound as exc:
            raise click.ClickException(exc.message) from exc
        collection = regions.export_regions(unit_id)
        file.write(json.dumps(collection, ensure_ascii=False) + "\n")  # one write: no half-written file
        click.echo(f"exported {len(collection['features'])} regions to {file.name}", err=True)
