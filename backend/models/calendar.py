from datetime import date

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db


class CalendarDay(db.Model):
    """A day that is not what its weekday says: a public holiday on a weekday, or a working weekend (调休).

    Days without a row follow the weekday: Monday to Friday work, Saturday and Sunday off.
    """

    __tablename__ = "calendar_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_workday: Mapped[bool] = mapped_column()
    name: Mapped[str] = mapped_column(String(64), default="")
    source: Mapped[str] = mapped_column(String(32), default="admin")  # "chinese_calendar" or "admin"
