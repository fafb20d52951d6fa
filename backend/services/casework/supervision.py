"""督办: the periodic check that no case sits unanswered. Each step happens once per case and deadline
(markers on the case), so running the check twice sends nothing twice."""

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from backend.extensions import db
from backend.models import HANDLED_BY_UNIT, Case, CaseStatus, ExtensionRequest, ExtensionStatus, Unit
from backend.models.types import local_time, utcnow
from backend.services.casework import deadlines, workflow
from backend.services.notifications import notify
from backend.services.paging import paginate

log = logging.getLogger(__name__)
# cases read per statement while a pass walks through the due ones
PAGE = 500


def short_time(at: datetime) -> str:
    return local_time(at, "%m-%d %H:%M")


def _due(query, step) -> int:
    """Run `step` on every case `query` selects, a page at a time (keyset on id, so a pass reaches every due case
    however many are open and however many a step leaves alone)."""
    done, after = 0, 0
    while True:
        ids = list(db.session.scalars(query.where(Case.id > after).order_by(Case.id).limit(PAGE)))
        if not ids:
            return done
        done += _each(ids, step)
        after = ids[-1]


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


def _rated_since_reply(case: Case) -> bool:
    """The citizen rated the latest reply (a rating from before a rework and a new reply does not count: the
    citizen cannot rate again, so the case would otherwise wait for a dispatcher forever)."""
    return case.rating is not None and case.rated_at >= case.replied_at


def _auto_close(case: Case, cutoff: datetime, days: int) -> bool:
    if case.status != CaseStatus.REPLIED or _rated_since_reply(case) or case.replied_at > cutoff:
        return False
    workflow.auto_close(case, days)
    return True


def due(now: datetime) -> dict:
    """Each step's selection: the ids of the cases due for it, its whole predicate in SQL (working-time windows
    become bounds on `deadline_at`). Level 2 comes before level 1, so no case climbs two levels in one pass."""
    config = current_app.config
    handled = db.select(Case.id).where(Case.status.in_(HANDLED_BY_UNIT))
    second_after = config["SECOND_ESCALATION_HOURS"]
    return {
        "recalled": handled.join(Unit, Unit.id == Case.unit_id).where(Unit.active.is_(False)),
        "signoff_overdue": handled.where(
            Case.status == CaseStatus.DISPATCHED,
            Case.signoff_overdue_at.is_(None),
            Case.signoff_deadline_at <= now,
        ),
        "escalated_level_2": handled.where(
            Case.escalation_level == 1, Case.deadline_at <= deadlines.overdue_by_until(now, second_after)
        ),
        "escalated_level_1": handled.where(Case.escalation_level == 0, Case.deadline_at <= now),
        "reminded": handled.where(
            Case.reminded_at.is_(None),
            Case.escalation_level == 0,
            Case.deadline_at > now,
            Case.deadline_at <= deadlines.due_soon_until(now, config["REMIND_BEFORE_HOURS"]),
        ),
        "auto_closed": db.select(Case.id).where(
            Case.status == CaseStatus.REPLIED,
            db.or_(Case.rating.is_(None), Case.rated_at < Case.replied_at),  # not rated since the latest reply
            Case.replied_at <= now - timedelta(days=config["AUTO_CLOSE_DAYS"]),
        ),
    }


def run(now: datetime | None = None) -> dict:
    """One supervision pass. Returns how many cases each step touched; each step checks its case again in the
    case's own transaction."""
    now = now or utcnow()
    config = current_app.config
    second_after, days = config["SECOND_ESCALATION_HOURS"], config["AUTO_CLOSE_DAYS"]
    queries = due(now)

    def escalate(case: Case) -> bool:
        return _escalate(case, now, second_after)

    return {
        # first, so that no later step reminds or escalates a unit nobody can act for
        "recalled": _due(queries["recalled"], _recall_orphan),
        "signoff_overdue": _due(queries["signoff_overdue"], lambda case: _signoff_overdue(case, now)),
        "escalated": _due(queries["escalated_level_2"], escalate) + _due(queries["escalated_level_1"], escalate),
        "reminded": _due(queries["reminded"], lambda case: _remind(case, now, config["REMIND_BEFORE_HOURS"])),
        "auto_closed": _due(queries["auto_closed"], lambda case: _auto_close(case, now - timedelta(days=days), days)),
    }


def overview(now: datetime | None = None, page: int = 1, per_page: int = 100) -> dict:
    """The supervision view (挂图作战): late and nearly late cases, per unit, and pending extensions.

    Counted in SQL (one grouped statement over the open cases) and listed a page at a time: the work is the same
    for fifty open cases or fifty thousand."""
    now = now or utcnow()
    soon_until = deadlines.due_soon_until(now, current_app.config["REMIND_BEFORE_HOURS"])
    is_overdue = db.or_(Case.deadline_at <= now, Case.escalation_level >= 1)
    is_due_soon = db.and_(Case.deadline_at > now, Case.escalation_level == 0, Case.deadline_at <= soon_until)
    open_cases = (Case.status.in_(HANDLED_BY_UNIT), Case.deadline_at.is_not(None))

    def count_if(condition):
        return db.func.coalesce(db.func.sum(db.case((condition, 1), else_=0)), 0)

    rows = db.session.execute(
        db.select(
            Case.unit_id,
            db.func.count(Case.id),
            count_if(is_overdue),
            count_if(is_due_soon),
            count_if(Case.escalation_level == 1),
            count_if(Case.escalation_level == 2),
        )
        .where(*open_cases)
        .group_by(Case.unit_id)
    ).all()
    units = {u.id: u for u in db.session.scalars(db.select(Unit).where(Unit.id.in_([row[0] for row in rows])))}
    by_unit = [
        {"unit": units[unit_id], "open": n, "overdue": late, "due_soon": soon, "level_1": one, "level_2": two}
        for unit_id, n, late, soon, one, two in rows
        if unit_id in units
    ]

    def listed(condition) -> list[Case]:
        return db.session.scalars(
            db.select(Case)
            .where(*open_cases, condition)
            .options(selectinload(Case.category), selectinload(Case.unit))
            .order_by(Case.deadline_at, Case.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        ).all()

    pending = paginate(
        db.select(ExtensionRequest).where(ExtensionRequest.status == ExtensionStatus.PENDING),
        page,
        per_page,
        ExtensionRequest.id,
        options=(selectinload(ExtensionRequest.unit),),
    )
    return {
        "now": now,
        "overdue": listed(is_overdue),
        "due_soon": listed(is_due_soon),
        "by_unit": sorted(by_unit, key=lambda row: (-row["overdue"], -row["due_soon"], row["unit"].id)),
        "extensions_pending": pending["items"],
        "overdue_total": sum(row[2] for row in rows),
        "due_soon_total": sum(row[3] for row in rows),
        "extensions_pending_total": pending["total"],
        "page": page,
        "per_page": per_page,
    }
