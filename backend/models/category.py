from sqlalchemy import Column, ForeignKey, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.unit import Unit

category_co_units = Table(
    "category_co_units",
    db.metadata,
    Column("category_id", ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True),
    Column("unit_id", ForeignKey("units.id", ondelete="CASCADE"), primary_key=True),
)


class Category(db.Model):
    """What citizens report (牛皮癣, 占道经营, 扬尘 …); data that administrators edit."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    icon: Mapped[str] = mapped_column(String(255), default="")  # an icon name or URL for the mini-program
    # a sub-category (工地扬尘 under 扬尘) inherits what it leaves unset from its parent
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    # 处置时限 from dispatch, in working hours (a working day has WORKDAY_HOURS); None inherits
    deadline_hours: Mapped[int | None] = mapped_column(default=None)
    # 签收时限 from dispatch, in working hours; None inherits, then the SIGNOFF_HOURS setting
    signoff_hours: Mapped[int | None] = mapped_column(default=None)
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # 牵头单位
    # 配合单位: named co-units, and/or the territorial unit (属地) of the report's location
    co_territorial: Mapped[bool] = mapped_column(default=False)
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped["Category | None"] = relationship(remote_side=[id])
    lead_unit: Mapped[Unit | None] = relationship(foreign_keys=[lead_unit_id])
    co_units: Mapped[list[Unit]] = relationship(secondary=category_co_units, order_by=Unit.id)

    def lineage(self) -> list["Category"]:
        """This category, then its parent, grandparent …"""
        chain, seen, node = [], set(), self
        while node is not None and node.id not in seen:
            chain.append(node)
            seen.add(node.id)
            node = node.parent
        return chain

    @property
    def effective_deadline_hours(self) -> int:
        return next((c.deadline_hours for c in self.lineage() if c.deadline_hours), DEFAULT_DEADLINE_HOURS)

    @property
    def effective_signoff_hours(self) -> int | None:
        return next((c.signoff_hours for c in self.lineage() if c.signoff_hours), None)


DEFAULT_DEADLINE_HOURS = 24  # three working days
