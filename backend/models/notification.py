import enum
from datetime import datetime

from sqlalchemy import JSON, Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow


class Channel(enum.StrEnum):
    WECHAT_SUBSCRIBE = "wechat_subscribe"  # 订阅消息 to a citizen
    WEBHOOK = "webhook"  # the unit's WeCom group robot or JSON endpoint
    IN_APP = "in_app"  # the staff's list of unread notifications


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"  # nothing to send to: no quota left, no webhook configured, user refused (43101)
    FAILED = "failed"  # gave up after retries, or a permanent error; shown to dispatchers


class Notification(db.Model):
    """Outbox: written in the same transaction as what it announces, delivered by a job afterwards."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_notifications_dedupe_key"),
        Index("ix_notifications_status_next", "status", "next_attempt_at"),
        # a unit's (or the dispatch center's) in-app list, newest first
        Index("ix_notifications_unit_channel_id", "unit_id", "channel", "id"),
        # the dispatch center's: its own (small) index, as citizens' rows have no unit_id either
        Index(
            "ix_notifications_dispatch_inbox",
            "id",
            postgresql_where=text("unit_id IS NULL AND channel = 'IN_APP'"),
            sqlite_where=text("unit_id IS NULL AND channel = 'IN_APP'"),
        ),
        # a unit's unread ones (the inbox's badge and filter): small, as they are read
        Index(
            "ix_notifications_unit_unread",
            "unit_id",
            "id",
            postgresql_where=text("read_at IS NULL AND channel = 'IN_APP'"),
            sqlite_where=text("read_at IS NULL AND channel = 'IN_APP'"),
        ),
        Index("ix_notifications_channel_status", "channel", "status"),  # the admin list's filters
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(48))  # case_dispatched, deadline_reminder, escalated …
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=24))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # citizen recipient
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))  # unit recipient
    # what happened, for the message; never the reporter's identity when the recipient is a unit
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    # one notification per (event, recipient, channel), however often the scheduler runs
    dedupe_key: Mapped[str] = mapped_column(String(160))
    status: Mapped[DeliveryStatus] = mapped_column(
        Enum(DeliveryStatus, native_enum=False, length=16), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # in-app only


class SubscriptionQuota(db.Model):
    """订阅消息: each "accept" in wx.requestSubscribeMessage grants one message of that template."""

    __tablename__ = "subscription_quotas"
    __table_args__ = (UniqueConstraint("user_id", "template_id", name="uq_subscription_quotas_user_template"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    template_id: Mapped[str] = mapped_column(String(128))
    remaining: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
