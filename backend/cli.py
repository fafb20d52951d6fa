"""Operator commands: `seed-demo`, `create-staff`, `reset-staff-password`, `set-staff-active`, `stats-rebuild`,
`import-regions`, `export-regions` (and Flask-Migrate's `db`)."""

from datetime import datetime

import click
from flask import Flask

from backend.cli_calendar import register_calendar_commands
from backend.cli_regions import register_region_commands
from backend.errors import AppError, ValidationFailed
from backend.extensions import db
from backend.models import StaffRole
from backend.models.types import LOCAL_TZ
from backend.services import accounts
from backend.services.actors import Actor
from backend.services.casework import workcalendar
from backend.services.responsibility import demo_district


def register_commands(app: Flask) -> None:
    register_region_commands(app)
    register_calendar_commands(app)

    @app.cli.command("seed-demo")
    @click.option("--with-staff", is_flag=True, help="Also create demo staff logins (password printed).")
    @click.option(
        "--with-cases", is_flag=True, help="Also a demo citizen's reports in every state (needs --with-staff)."
    )
    def seed_demo(with_staff: bool, with_cases: bool) -> None:
        """Load the demo district 攀州市仁和区 (units, categories, regions, routing, reward rules)."""
        if with_cases and not with_staff:
            raise click.UsageError("--with-cases needs --with-staff: the demo staff handle the demo reports")
        counts = demo_district.load()
        this_year = datetime.now(LOCAL_TZ).year
        calendar_rows = workcalendar.seed_from_chinese_calendar([this_year - 1, this_year, this_year + 1])
        reward_rules = demo_district.create_demo_reward_rules()
        staff = demo_district.create_demo_staff() if with_staff else []
        cases = 0
        if with_cases:
            with app.test_request_context():  # the work calendar is cached per request
                cases = demo_district.create_demo_cases()
        db.session.commit()
        click.echo(f"working calendar: {calendar_rows} holiday/调休 days written from chinese_calendar")
        click.echo(
            f"demo district loaded: {counts['units']} units, {counts['regions']} regions, "
            f"{counts['categories']} categories, {reward_rules} new reward rules"
        )
        if with_cases:
            click.echo(f"demo reports: {cases} new (a demo citizen's, one in each state)")
        for username, role, unit in staff:
            click.echo(f"  staff {username:<20} role {role:<11} {unit}")
        if staff:
            click.echo(f"  password of these new demo accounts: {demo_district.DEMO_PASSWORD}")
        elif with_staff:
            click.echo("  demo staff accounts exist already (their passwords are as they were left)")

    @app.cli.command("create-staff")
    @click.argument("username")
    @click.option("--password", required=True, help="At least 8 characters.")
    @click.option("--role", required=True, type=click.Choice([r.value for r in StaffRole]))
    @click.option("--unit", "unit_code", default=None, help="Unit code, required for unit_staff.")
    def create_staff(username: str, password: str, role: str, unit_code: str | None) -> None:
        """Create a staff account."""
        try:
            staff = accounts.create_staff(username, password, role, unit_code)
        except ValidationFailed as exc:
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        click.echo(f"created staff {staff.username} (id {staff.id}, role {staff.role.value})")

    @app.cli.command("reset-staff-password")
    @click.argument("username")
    @click.option("--password", required=True, help="At least 8 characters.")
    def reset_staff_password(username: str, password: str) -> None:
        """Set a staff account's password: its console sessions and API tokens end, its lock-out is lifted."""
        try:
            staff = accounts.reset_password(accounts.find_staff(username), password, Actor.system())
        except AppError as exc:
            raise click.ClickException(
                exc.message + "".join(f" {m}" for ms in (exc.fields or {}).values() for m in ms)
            ) from exc
        db.session.commit()
        click.echo(f"password of {staff.username} reset; every session and token of the account has ended")

    @app.cli.command("set-staff-active")
    @click.argument("username")
    @click.option("--active/--inactive", required=True, help="--inactive ends the account's sessions and tokens.")
    def set_staff_active(username: str, active: bool) -> None:
        """停用 / 启用 a staff account."""
        try:
            staff = accounts.set_active(accounts.find_staff(username), active, Actor.system())
        except AppError as exc:
            raise click.ClickException(exc.message) from exc
        db.session.commit()
        click.echo(f"{staff.username} is {'active' if staff.active else 'inactive'}")

    @app.cli.command("stats-rebuild")
    def stats_rebuild() -> None:
        """Rebuild the 考核 assignment ledger from case_events (after the upgrade that adds it, or after a bulk
        load that bypassed the state machine)."""
        from backend.services.stats import ledger

        with app.test_request_context():  # the work calendar is cached per request
            written = ledger.rebuild()
        click.echo(f"assignment ledger rebuilt: {written} rows")
