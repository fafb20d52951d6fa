from backend.services.casework import supervision


def run_supervision() -> dict:
    """Reminders, sign-off and deadline overdue, 督办 levels, auto-close. Safe to run twice."""
    return supervision.run()
