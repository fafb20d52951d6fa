"""Staff accounts as an admin sees them: lifting a login lock-out."""

from flask import Blueprint

from backend.api.common import actor
from backend.api.spec import doc
from backend.auth import admin_required
from backend.extensions import db
from backend.schemas.auth import StaffUnlockedOut
from backend.services import lockout

bp = Blueprint("admin_staff", __name__, url_prefix="/admin/staff")


@bp.post("/<int:staff_id>/unlock")
@doc(response=StaffUnlockedOut, errors={404: "staff_not_found"})
@admin_required
def unlock_staff(staff_id: int):
    staff, before = lockout.unlock(staff_id, actor())
    db.session.commit()
    return StaffUnlockedOut().dump(
        {"staff": staff, "was_locked": before.locked, "failed_attempts": before.failed_attempts}
    )
