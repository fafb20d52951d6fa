from backend.extensions import db
from backend.services.responsibility import routing


def route_case(case_id: int) -> str:
    """Route one case by its rules. Safe to run twice: a case already routed is left alone."""
    case = routing.route_case(case_id)
    db.session.commit()
    return "missing" if case is None else f"{case.status}/{case.routing_status}"
