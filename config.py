"""Settings. The only module that reads the environment."""

import os
from pathlib import Path
from typing import ClassVar

BASE_DIR = Path(__file__).resolve().parent
DEFAULT_SECRET_KEY = "dev-secret-change-me"


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY", DEFAULT_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'suishoupai.db'}")
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict] = {"pool_pre_ping": True}
    # Unset means "start an embedded redis-server" (see scripts/run_dev.py and tests/conftest.py).
    REDIS_URL = os.environ.get("REDIS_URL", "")
    MEDIA_ROOT = os.environ.get("MEDIA_ROOT", str(BASE_DIR / "var" / "media"))

    WECHAT_APPID = os.environ.get("WECHAT_APPID", "")
    WECHAT_SECRET = os.environ.get("WECHAT_SECRET", "")
    WECHAT_API_BASE = os.environ.get("WECHAT_API_BASE", "https://api.weixin.qq.com")
    # Behind nginx or a cloud load balancer: trust one X-Forwarded-* hop, so signed photo URLs are https.
    BEHIND_PROXY = _env_bool("BEHIND_PROXY", False)
    HTTP_TIMEOUT_SECONDS = float(os.environ.get("HTTP_TIMEOUT_SECONDS", "5"))

    # werkzeug's default, scrypt: deliberately slow (~0.1 s a hash)
    PASSWORD_HASH_METHOD = "scrypt"
    CITIZEN_TOKEN_TTL = _env_int("CITIZEN_TOKEN_TTL", 7 * 24 * 3600)
    STAFF_TOKEN_TTL = _env_int("STAFF_TOKEN_TTL", 12 * 3600)
    # Lets a developer log in as any openid without WeChat. Refused in production.
    DEV_LOGIN_ENABLED = _env_bool("DEV_LOGIN_ENABLED", False)

    MAX_PHOTO_BYTES = 20 * 1024 * 1024
    # Room for the multipart envelope around a 20 MB file; the file itself is checked exactly.
    MAX_CONTENT_LENGTH = MAX_PHOTO_BYTES + 256 * 1024
    MAX_PHOTO_PIXELS = _env_int("MAX_PHOTO_PIXELS", 80_000_000)
    PHOTO_DISPLAY_MAX_PX = 2048
    PHOTO_THUMB_MAX_PX = 360
    PHOTO_URL_TTL = _env_int("PHOTO_URL_TTL", 6 * 3600)

    # Working time (Asia/Shanghai) for deadlines: periods of a working day, "HH:MM-HH:MM,…"
    WORK_HOURS = os.environ.get("WORK_HOURS", "09:00-12:00,13:00-18:00")
    SIGNOFF_HOURS = _env_int("SIGNOFF_HOURS", 2)  # 签收时限, working hours, unless the category sets one
    REMIND_BEFORE_HOURS = _env_int("REMIND_BEFORE_HOURS", 4)  # 临期提醒, working hours before the deadline
    SECOND_ESCALATION_HOURS = _env_int("SECOND_ESCALATION_HOURS", 16)  # working hours overdue before level 2
    AUTO_CLOSE_DAYS = _env_int("AUTO_CLOSE_DAYS", 7)  # a replied case nobody rated closes after these days
    SUPERVISION_INTERVAL_SECONDS = _env_int("SUPERVISION_INTERVAL_SECONDS", 300)

    # WeChat subscribe messages: template ids per event, from the mini-program's admin console (JSON).
    WECHAT_TEMPLATES = os.environ.get("WECHAT_TEMPLATES", "")
    WECHAT_MINIPROGRAM_STATE = os.environ.get("WECHAT_MINIPROGRAM_STATE", "formal")  # formal, trial, developer
    NOTIFY_MAX_ATTEMPTS = _env_int("NOTIFY_MAX_ATTEMPTS", 6)
    # signs JSON webhook bodies (X-Suishoupai-Signature: sha256=HMAC) so units can verify them
    WEBHOOK_SECRET = os.environ.get("WEBHOOK_SECRET", "")

    # 有奖举报 abuse control: each signal is shown on the claim; those listed in REWARD_HOLD_SIGNALS hold it
    REWARD_OLD_PHOTO_DAYS = _env_int("REWARD_OLD_PHOTO_DAYS", 3)  # EXIF time this much older than the report
    REWARD_BURST_PER_HOUR = _env_int("REWARD_BURST_PER_HOUR", 5)  # reports by one citizen within an hour
    REWARD_SAME_SPOT_METERS = _env_int("REWARD_SAME_SPOT_METERS", 50)
    REWARD_SAME_SPOT_COUNT = _env_int("REWARD_SAME_SPOT_COUNT", 3)  # within 30 days, by one citizen
    REWARD_DUPLICATE_METERS = _env_int("REWARD_DUPLICATE_METERS", 100)  # an earlier report of the same problem
    REWARD_DUPLICATE_DAYS = _env_int("REWARD_DUPLICATE_DAYS", 7)
    REWARD_SIMILAR_PHOTO_BITS = _env_int("REWARD_SIMILAR_PHOTO_BITS", 8)  # dHash distance for "the same photo"
    REWARD_HOLD_SIGNALS = os.environ.get(
        "REWARD_HOLD_SIGNALS",
        "same_photo,similar_photo,old_photo,burst,same_spot,earlier_report,over_daily_cap,over_monthly_cap,suspended",
    )

    # WeChat Pay merchant transfer (商家转账) for reward payouts
    WECHATPAY_API_BASE = os.environ.get("WECHATPAY_API_BASE", "https://api.mch.weixin.qq.com")
    WECHATPAY_MCHID = os.environ.get("WECHATPAY_MCHID", "")
    WECHATPAY_SERIAL_NO = os.environ.get("WECHATPAY_SERIAL_NO", "")  # the merchant API certificate's serial
    WECHATPAY_PRIVATE_KEY_PATH = os.environ.get("WECHATPAY_PRIVATE_KEY_PATH", "")
    WECHATPAY_PUBLIC_KEYS = os.environ.get("WECHATPAY_PUBLIC_KEYS", "")  # JSON {key id or serial: PEM path}
    WECHATPAY_APIV3_KEY = os.environ.get("WECHATPAY_APIV3_KEY", "")
    WECHATPAY_TRANSFER_SCENE_ID = os.environ.get("WECHATPAY_TRANSFER_SCENE_ID", "")  # 转账场景ID
    # 转账场景报备信息 required by the scene, JSON {info_type: info_content}
    WECHATPAY_SCENE_REPORT_INFOS = os.environ.get(
        "WECHATPAY_SCENE_REPORT_INFOS", '{"活动名称": "随手拍有奖举报", "奖励说明": "举报城市管理问题经核实后的奖励"}'
    )
    WECHATPAY_TRANSFER_REMARK = os.environ.get("WECHATPAY_TRANSFER_REMARK", "随手拍有奖举报奖励")
    WECHATPAY_NOTIFY_URL = os.environ.get("WECHATPAY_NOTIFY_URL", "")
    PAYOUT_POLL_INTERVAL_SECONDS = _env_int("PAYOUT_POLL_INTERVAL_SECONDS", 600)

    # Periodic sweep: reports and photos untouched for this long are enqueued again.
    SWEEP_INTERVAL_SECONDS = _env_int("SWEEP_INTERVAL_SECONDS", 60)
    SWEEP_GRACE_SECONDS = _env_int("SWEEP_GRACE_SECONDS", 30)
    # times the sweep re-creates the job of one object before it gives up and lists it in the health report
    SWEEP_MAX_ATTEMPTS = _env_int("SWEEP_MAX_ATTEMPTS", 10)


class DevelopmentConfig(Config):
    DEBUG = True


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret"
    # Every test creates a dozen demo accounts; a slow hash would dominate the suite's run time.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    DEV_LOGIN_ENABLED = True
    WECHAT_APPID = "wx-test-appid"
    WECHAT_SECRET = "wx-test-secret"
    SWEEP_GRACE_SECONDS = 0
    WECHAT_TEMPLATES: ClassVar[dict] = {
        kind: {
            "template_id": f"tmpl-{kind}",
            "page": "pages/report/detail?id={case_id}",
            "fields": {"character_string1": "number", "thing2": "category", "phrase3": "status", "time4": "at"},
        }
        for kind in ("case_dispatched", "case_replied", "case_rejected", "case_closed")
    }


class ProductionConfig(Config):
    DEV_LOGIN_ENABLED = False

    @classmethod
    def problems(cls) -> list[str]:
        found = []
        if cls.SECRET_KEY == DEFAULT_SECRET_KEY or len(cls.SECRET_KEY) < 32:
            found.append("SECRET_KEY must be set to a random value of at least 32 characters")
        if not os.environ.get("DATABASE_URL"):
            found.append("DATABASE_URL must be set")
        if not cls.REDIS_URL:
            found.append("REDIS_URL must be set")
        if not (cls.WECHAT_APPID and cls.WECHAT_SECRET):
            found.append("WECHAT_APPID and WECHAT_SECRET must be set")
        if _env_bool("DEV_LOGIN_ENABLED"):
            found.append("DEV_LOGIN_ENABLED is not allowed in production")
        return found


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    return CONFIGS[os.environ.get("APP_ENV", "development")]
