from backend.services.media import uploads


def purge_unattached_photos() -> int:
    """Delete uploads that no report or reply took within a day (rows and files)."""
    return uploads.purge_unattached()
