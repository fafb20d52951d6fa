"""督办: the periodic check that no case sits unanswered. Each step happens once per case and deadline
(markers on the case), so running the check twice sends nothing twice."""

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.orm.exc import StaleDataError

from backend.extensions import db
from backend.models import HANDLED_BY_UNIT, Case, CaseStatus, ExtensionRequest, ExtensionStatus, Unit
from backend.models.types import local_time, utcnow
from backend.services import deadlines, notify, workflow

log = logging.getLogger(__name__)
# The reminder window is in working hours; no working-hours window spans more calendar time than this.
LOOKAHEAD = timedelta(days=21)


def short_time(at: datetime) -> str:
    return local_time(at, "%m-%d %H:%M")


def _ids(query) -> list[int]:
    return list(db.session.scalars(query.order_by(Case.id).limit(1000)))


def _each(case_ids: list[int], step) -> int:
    """Run one step per case in its own transaction; a case changed meanwhile is left for the next run."""
    done = 0
    for case_id in case_ids:
        case = db.session.get(Case, case_id)
        try:
            if step(case):
                db.session.commit()
                done += 1
            else:
                db.session.rollback()
        except StaleDataError:
            db.session.rollback()
            log.info("case %s changed during supervision; next run", case_id)
    return done


def _signoff_overdue(case: Case, now: datetime) -> bool:
    if case.status != CaseStatus.DISPATCHED or case.signoff_overdue_at or case.signoff_deadline_at > now:
        return False
    text = f"{case.unit.name}未在签收时限（{short_time(case.signoff_deadline_at)}）内签收"
    workflow.record_signoff_overdue(case, text)
    key = f"case-{case.id}:signoff-{case.signoff_deadline_at.isoformat()}"
    notify.to_unit(case.unit, "signoff_overdue", case, key, f"案件{case.number}已超过签收时限，请尽快签收")
    notify.to_dispatch_center("signoff_overdue", case, key, text)
    return True


def _remind(case: Case, now: datetime, window: float) -> bool:
    if case.status not in HANDLED_BY_UNIT or case.reminded_at or case.escalation_level or case.deadline_at <= now:
        return False
    left = deadlines.working_hours_left(case, now)
    if left is None or left > window:
        return False
    text = f"距处置时限（{short_time(case.deadline_at)}）还有约 {left:g} 个工作小时"
    workflow.remind(case, text)
    key = f"case-{case.id}:remind-{case.deadline_at.isoformat()}"
    notify.to_unit(case.unit, "deadline_reminder", case, key, text)
    return True


def _escalate(case: Case, now: datetime, second_after: float) -> bool:
    if case.status not in HANDLED_BY_UNIT or case.deadline_at > now or case.escalation_level >= 2:
        return False
    key = f"case-{case.id}:overdue-{case.deadline_at.isoformat()}"
    leader = f"（请{case.unit.leader_name} {case.unit.leader_phone or ''}督促办理）" if case.unit.leader_name else ""
    if case.escalation_level == 0:
        text = (
            f"{case.unit.name}办理的案件{case.number}已超过处置时限（{short_time(case.deadline_at)}），挂牌督办{leader}"
        )
        workflow.escalate(case, 1, text)
        notify.to_unit(case.unit, "escalated", case, f"{key}:level-1", text, {"level": 1})
        notify.to_dispatch_center("escalated", case, f"{key}:level-1", text, {"level": 1})
        return True
    overdue_for = -(deadlines.working_hours_left(case, now) or 0)
    if overdue_for < second_after:
        return False
    text = f"案件{case.number}超期已超过 {second_after:g} 个工作小时，二级督办{leader}"
    workflow.escalate(case, 2, text)
    for unit in filter(None, (case.unit, case.unit.parent)):
        notify.to_unit(unit, "escalated_again", case, f"{key}:level-2", text, {"level": 2})
    notify.to_dispatch_center("escalated_again", case, f"{key}:level-2", text, {"level": 2})
    return True


def _recall_orphan(case: Case) -> bool:
    """A case still handled by a deactivated unit (a dispatch that raced the deactivation, older data): nobody
    there can act on it, so it goes back to the dispatcher's queue instead of being escalated."""
    if case.status not in HANDLED_BY_UNIT or not workflow.orphaned(case):
        return False
    workflow.recall(case)
    return True


def _auto_close(case: Case, cutoff: datetime, days: int) -> bool:
    if case.status != CaseStatus.REPLIED or case.rating is not None or case.replied_at > cutoff:
        return False
    workflow.auto_close(case, days)
    return True


def run(now: datetime | None = None) -> dict:
    """One supervision pass. Returns how many cases each step touched."""
    now = now or utcnow()
    config = current_app.config
    open_cases = db.select(Case.id).where(Case.status.in_(HANDLED_BY_UNIT))
    days = config["AUTO_CLOSE_DAYS"]
    cutoff = now - timedelta(days=days)
    return {
        # first, so that no later step reminds or escalates a unit nobody can act for
        "recalled": _each(
            _ids(open_cases.join(Unit, Unit.id == Case.unit_id).where(Unit.active.is_(False))), _recall_orphan
        ),
        "signoff_overdue": _each(
            _ids(
                open_cases.where(
                    Case.status == CaseStatus.DISPATCHED,
                    Case.signoff_overdue_at.is_(None),
                    Case.signoff_deadline_at <= now,
                )
            ),
            lambda case: _signoff_overdue(case, now),
        ),
        "escalated": _each(
            _ids(open_cases.where(Case.deadline_at <= now, Case.escalation_level < 2)),
            lambda case: _escalate(case, now, config["SECOND_ESCALATION_HOURS"]),
        ),
        "reminded": _each(
            _ids(
                open_cases.where(
                    Case.reminded_at.is_(None),
                    Case.escalation_level == 0,
                    Case.deadline_at > now,
                    Case.deadline_at <= now + LOOKAHEAD,
                )
            ),
            lambda case: _remind(case, now, config["REMIND_BEFORE_HOURS"]),
        ),
        "auto_closed": _each(
            _ids(
                db.select(Case.id).where(
                    Case.status == CaseStatus.REPLIED, Case.rating.is_(None), Case.replied_at <= cutoff
                )
            ),
            lambda case: _auto_close(case, cutoff, days),
        ),
    }


def overview(now: datetime | None = None, limit: int = 100) -> dict:
    """The supervision view (挂图作战): late and nearly late cases, per unit, and pending extensions."""
    now = now or utcnow()
    window = current_app.config["REMIND_BEFORE_HOURS"]
    open_cases = db.session.scalars(
        db.select(Case)
        .where(Case.status.in_(HANDLED_BY_UNIT), Case.deadline_at.is_not(None))
        .order_by(Case.deadline_at)
    ).all()
    overdue, due_soon, by_unit = [], [], {}
    for case in open_cases:
        left = deadlines.working_hours_left(case, now)
        row = by_unit.setdefault(case.unit_id, {"open": 0, "overdue": 0, "due_soon": 0, "level_1": 0, "level_2": 0})
        row["open"] += 1
        if case.deadline_at <= now or case.escalation_level >= 1:
            overdue.append(case)
            row["overdue"] += 1
        elif left is not None and left <= window:
            due_soon.append(case)
            row["due_soon"] += 1
        if case.escalation_level >= 1:
            row[f"level_{case.escalation_level}"] += 1
    units = {u.id: u for u in db.session.scalars(db.select(Unit).where(Unit.id.in_(list(by_unit))))}
    pending = db.session.scalars(
        db.select(ExtensionRequest)
        .where(ExtensionRequest.status == ExtensionStatus.PENDING)
        .order_by(ExtensionRequest.id)
    ).all()
    return {
        "now": now,
        "overdue": overdue[:limit],
        "due_soon": due_soon[:limit],
        "by_unit": sorted(
            ({"unit": units[unit_id], **counts} for unit_id, counts in by_unit.items() if unit_id in units),
            key=lambda row: (-row["overdue"], -row["due_soon"], row["unit"].id),
        ),
        "extensions_pending": pending[:limit],
    }
