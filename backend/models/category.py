from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.unit import Unit


class Category(db.Model):
    """What citizens report (牛皮癣, 占道经营, 扬尘 …); data that administrators edit."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    # 处置时限 handling deadline from dispatch, in hours
    deadline_hours: Mapped[int] = mapped_column(default=72)
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # 牵头单位
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    lead_unit: Mapped[Unit | None] = relationship()
