from backend.services import recovery


def sweep_stuck() -> dict:
    """Enqueue reports and photos that were committed but never picked up."""
    return recovery.sweep_stuck()
