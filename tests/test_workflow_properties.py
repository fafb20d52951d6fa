"""Property tests of the case state machine: no status is a dead end, whatever happens to the lead unit.

1. An exhaustive walk over workflow.TRANSITIONS × the lead unit's state (none / active / deactivated): from every
   state reachable by any transition or any deactivation (even one that raced a dispatch and recalled nothing),
   someone who can still act — a dispatcher, the lead unit's staff while the unit is active (a deactivated
   unit's staff cannot sign in), the reporter, the system — can move the case to `closed` or `rejected`.
2. A hypothesis state machine doing the same with the real services on the real database: random actions by
   every actor, deactivations, reactivations and supervision passes; after each step someone may act, and at
   the end the actors who can still act bring the case to `closed` or `rejected`.
"""

from collections import deque
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from backend.auth import unit_disabled
from backend.errors import AppError
from backend.extensions import db
from backend.models import HANDLED_BY_UNIT, Case, CaseStatus, Category, Rating, Staff, StaffRole, Unit, User
from backend.models.types import utcnow
from backend.services.actors import Actor
from backend.services.casework import supervision, workflow
from backend.services.casework.workflow import TRANSITIONS
from backend.services.responsibility import units

S = CaseStatus
TERMINAL = frozenset({S.CLOSED, S.REJECTED})
REPORTER_ID, UNIT_ID = 1, 7
NO_UNIT, ACTIVE, INACTIVE = "none", "active", "inactive"
ACTORS = {
    "system": Actor.system(),
    "dispatcher": Actor.staff(1, StaffRole.DISPATCHER, None),
    "unit": Actor.staff(2, StaffRole.UNIT_STAFF, UNIT_ID),
    "reporter": Actor.citizen(REPORTER_ID),
}


def _model_case(status: CaseStatus, unit: str) -> Case:
    lead = None if unit == NO_UNIT else Unit(id=UNIT_ID, code="u", name="单位", active=unit == ACTIVE)
    return Case(status=status, reporter_id=REPORTER_ID, unit=lead, unit_id=lead and UNIT_ID)


def _moves(state: tuple[CaseStatus, str]):
    """(action, actor, next state) for everything an actor who can still act may do in `state`."""
    status, unit = state
    case = _model_case(status, unit)
    for action, transition in TRANSITIONS.items():
        for name, actor in ACTORS.items():
            if name == "unit" and unit != ACTIVE:
                continue  # a deactivated unit's staff cannot sign in (backend.auth)
            if name == "system" and action == "recall" and unit != INACTIVE:
                continue  # the system recalls only the cases of a deactivated unit
            if not workflow.permitted(case, action, actor):
                continue
            target = transition.target_for(case)
            if target in TERMINAL:
                after = unit
            elif target == S.PENDING:
                after = NO_UNIT  # returned, recalled, or reworked at a deactivated unit: unassigned
            elif action in ("route", "dispatch"):
                after = ACTIVE  # dispatch refuses a deactivated unit; routing only picks active ones
            else:
                after = unit
            yield action, name, (target, after)


def _environment(state: tuple[CaseStatus, str]):
    """What can happen to the lead unit: deactivation (recalling its dispatched/processing cases, or not — a
    dispatch racing it, older data), reactivation."""
    status, unit = state
    if status in TERMINAL or unit == NO_UNIT:
        return
    if unit == ACTIVE:
        yield (S.PENDING, NO_UNIT) if status in HANDLED_BY_UNIT else (status, INACTIVE)
        yield status, INACTIVE
    else:
        yield status, ACTIVE


def test_every_reachable_state_can_reach_closed_or_rejected():
    start = (S.PENDING, NO_UNIT)
    reachable, queue, edges = {start}, deque([start]), {}
    while queue:
        state = queue.popleft()
        edges[state] = [after for _, _, after in _moves(state)]
        for after in [*edges[state], *_environment(state)]:
            if after not in reachable:
                reachable.add(after)
                queue.append(after)
    # every status the table knows, at an inactive unit too, is reached
    assert {(S.PROCESSING, INACTIVE), (S.REPLIED, INACTIVE), (S.DISPATCHED, INACTIVE)} <= reachable
    can_finish = {state for state in reachable if state[0] in TERMINAL}
    grew = True
    while grew:
        grew = False
        for state in reachable - can_finish:
            if any(after in can_finish for after in edges[state]):
                can_finish.add(state)
                grew = True
    assert reachable - can_finish == set(), "dead ends: nobody can bring these to closed or rejected"
    # and a person (not only a timer) can act on every open case
    for state in reachable - {s for s in reachable if s[0] in TERMINAL}:
        assert any(who != "system" for _, who, _ in _moves(state)), state


# --- the same with the real services ---------------------------------------------------------------------

UNITS = ("dahezhonglu", "renhe-town")  # both have demo staff and can be deactivated


class CaseLifecycle(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        db.session.rollback()  # what a failed example left behind
        self.units = {code: db.session.scalar(db.select(Unit).where(Unit.code == code)) for code in UNITS}
        self.staff = {
            code: db.session.scalar(db.select(Staff).where(Staff.unit_id == unit.id, Staff.active.is_(True)))
            for code, unit in self.units.items()
        }
        for unit in self.units.values():  # every example starts with both units active
            unit.active = True
        db.session.commit()
        dispatcher = db.session.scalar(db.select(Staff).where(Staff.role == StaffRole.DISPATCHER))
        self.dispatcher = Actor.staff(dispatcher.id, dispatcher.role, None)

    @initialize()
    def report(self):
        reporter = User(openid=f"prop-{utcnow().timestamp()}-{id(self)}")
        db.session.add(reporter)
        db.session.flush()
        category = db.session.scalar(db.select(Category).where(Category.code == "illegal_ad"))
        self.case = Case(
            reporter_id=reporter.id,
            category=category,
            lat=26.58,
            lng=101.72,
            coord="gcj02",
            wgs84_lat=26.58,
            wgs84_lng=101.72,
        )
        db.session.add(self.case)
        workflow.record_submission(self.case, Actor.citizen(reporter.id))
        db.session.commit()
        self.reporter = Actor.citizen(reporter.id)

    def _try(self, call) -> None:
        try:
            call()
            db.session.commit()
        except AppError:
            db.session.rollback()

    def _lead_staff(self) -> Actor | None:
        """The lead unit's staff, if they could sign in now."""
        staff = next((s for s in self.staff.values() if s.unit_id == self.case.unit_id), None)
        if staff is None or unit_disabled(staff):
            return None
        return Actor.staff(staff.id, staff.role, staff.unit_id)

    def _open(self) -> bool:
        return self.case.status not in TERMINAL

    @precondition(lambda self: self.case.status == S.PENDING)
    @rule(code=st.sampled_from(UNITS))
    def route(self, code):
        unit = self.units[code]
        if self.case.status == S.PENDING and unit.active:  # routing only picks active units
            self._try(lambda: workflow.route(self.case, unit, [], None, None, "property test"))

    @precondition(_open)
    @rule(code=st.sampled_from(UNITS))
    def dispatch(self, code):
        self._try(lambda: workflow.dispatch(self.case, self.units[code], self.dispatcher))

    @precondition(lambda self: self._lead_staff() is not None)
    @rule(action=st.sampled_from(["accept", "return", "reply"]))
    def unit_acts(self, action):
        actor = self._lead_staff()
        if actor is None:
            return
        calls = {
            "accept": lambda: workflow.accept(self.case, actor),
            "return": lambda: workflow.return_case(self.case, actor, "非本单位职责"),
            "reply": lambda: workflow.reply(self.case, actor, "已处理", []),
        }
        self._try(calls[action])

    @precondition(_open)
    @rule(action=st.sampled_from(["close", "rework", "reject"]))
    def dispatcher_acts(self, action):
        calls = {
            "close": lambda: workflow.close(self.case, self.dispatcher),
            "rework": lambda: workflow.rework(self.case, self.dispatcher, "核查不通过"),
            "reject": lambda: workflow.reject(self.case, self.dispatcher, "无效举报"),
        }
        self._try(calls[action])

    @precondition(lambda self: self.case.status == S.REPLIED)
    @rule(rating=st.sampled_from(list(Rating)))
    def rate(self, rating):
        self._try(lambda: workflow.rate(self.case, self.reporter, rating, ""))

    @rule(code=st.sampled_from(UNITS), active=st.booleans())
    def set_unit_active(self, code, active):
        self._try(lambda: units.update(self.units[code], {"active": active}, self.dispatcher))

    @precondition(lambda self: self.case.unit is not None and self.case.unit.active)
    @rule()
    def deactivation_raced_a_dispatch(self):
        """The lead unit went inactive and nothing recalled the case (a race, or data from before)."""
        self.case.unit.active = False
        db.session.commit()

    @precondition(_open)
    @rule()
    def supervise(self):
        supervision.run(utcnow() + timedelta(days=60))
        db.session.expire_all()
        assert not (self.case.status in HANDLED_BY_UNIT and workflow.orphaned(self.case))

    @invariant()
    def someone_can_act(self):
        if self.case.status in TERMINAL:
            return
        actors = [self.dispatcher, self.reporter, self._lead_staff()]
        assert any(
            workflow.permitted(self.case, action, actor)
            for action in TRANSITIONS
            for actor in filter(None, actors)
            if action not in ("route", "recall", "auto_close")  # a person, not a timer
        ), (self.case.status, self.case.unit and self.case.unit.active)

    def teardown(self):
        """Whatever happened, the people who can still act finish the case."""
        for _ in range(6):
            if self.case.status in TERMINAL:
                break
            staff = self._lead_staff()
            active = next((u for u in self.units.values() if u.active), None)
            steps = [
                ("close", self.dispatcher, lambda: workflow.close(self.case, self.dispatcher)),
                ("reject", self.dispatcher, lambda: workflow.reject(self.case, self.dispatcher, "结束")),
                ("reply", staff, lambda staff=staff: workflow.reply(self.case, staff, "已处理", [])),
                ("accept", staff, lambda staff=staff: workflow.accept(self.case, staff)),
            ]
            for action, actor, call in steps:
                if actor is not None and workflow.permitted(self.case, action, actor):
                    call()
                    db.session.commit()
                    break
            else:
                if active is None:
                    self.units[UNITS[0]].active = True
                    db.session.commit()
                elif workflow.permitted(self.case, "dispatch", self.dispatcher):
                    workflow.dispatch(self.case, active, self.dispatcher)
                    db.session.commit()
                else:
                    break
        assert self.case.status in TERMINAL, self.case.status


def test_the_real_state_machine_never_strands_a_case(app):
    with app.app_context():
        run_state_machine_as_test(
            CaseLifecycle,
            settings=settings(
                max_examples=60,
                stateful_step_count=10,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
