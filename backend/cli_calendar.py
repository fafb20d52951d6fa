"""Operator command for the working-day calendar: `flask --app wsgi seed-calendar [--year Y]...`."""

import click
from flask import Flask

from backend.extensions import db
from backend.models.types import LOCAL_TZ, utcnow
from backend.services.casework import workcalendar


def register_calendar_commands(app: Flask) -> None:
    @app.cli.command("seed-calendar")
    @click.option(
        "--year",
        "years",
        type=click.IntRange(2000, 2100),
        multiple=True,
        help="A year to load (repeatable). Default: last year, this year and next year.",
    )
    def seed_calendar(years: tuple[int, ...]) -> None:
        """Load the official holidays and 调休 working weekends from the chinese_calendar package.

        Days an administrator entered are kept as they are; running it again changes nothing.
        """
        if not years:
            this_year = utcnow().astimezone(LOCAL_TZ).year
            years = (this_year - 1, this_year, this_year + 1)
        known = sorted(y for y in set(years) if workcalendar.package_knows(y))
        unknown = sorted(set(years) - set(known))
        written = workcalendar.seed_from_chinese_calendar(known)
        db.session.commit()
        loaded = ", ".join(map(str, known)) or "none"
        click.echo(f"calendar seeded from chinese_calendar: {written} rows written (years {loaded})")
        if unknown:
            click.echo(
                f"not known to the installed chinese_calendar: {', '.join(map(str, unknown))} — these years follow "
                "the weekdays until an administrator enters their holidays and 调休 days "
                "(PUT /api/v1/admin/calendar/<day>) or chinesecalendar is upgraded",
                err=True,
            )
