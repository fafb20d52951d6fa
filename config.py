"""Settings. The only module that reads the environment."""

import os
from pathlib import Path
from typing import ClassVar

BASE_DIR = Path(__file__).resolve().parent
MIN_SECRET_KEY_LENGTH = 32


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_weights(name: str, default: str) -> dict[str, float]:
    """ "name:weight,name:weight" → {name: weight}."""
    weights = {}
    for part in os.environ.get(name, default).split(","):
        key, _, value = part.strip().partition(":")
        if key:
            weights[key.strip()] = float(value)
    return weights


class Config:
    """What every environment shares. Nothing here is a usable secret: each environment sets its own."""

    DEBUG = False
    # No default: `make run` (scripts/run_dev.py) keeps a random one under var/, the tests set their own.
    SECRET_KEY = os.environ.get("SECRET_KEY", "")
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
    # Each side too: a 1 x 60,000,000 px strip is under the pixel cap and costs seconds to decode.
    MAX_PHOTO_SIDE = _env_int("MAX_PHOTO_SIDE", 20_000)
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
    # webhooks reach public addresses only; an intranet deployment lists the private networks its units' endpoints
    # may use, e.g. "10.1.0.0/16,192.168.5.7/32" (empty: none)
    WEBHOOK_ALLOWED_NETWORKS = os.environ.get("WEBHOOK_ALLOWED_NETWORKS", "")

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

    # Paged lists count their matches up to this many and then answer `"total": cap, "total_exact": false`,
    # so a page costs the same at a million rows as at a thousand (an exact count of 900,000 closed cases, or
    # of a unit's 70,000 notifications, reads every one of their index entries on every page view).
    LIST_COUNT_CAP = _env_int("LIST_COUNT_CAP", 10_000)

    # Abuse and resource limits (OWASP API4). Rates in Flask-Limiter's notation ("N per minute; M per day"),
    # counted in Redis (REDIS_URL) so every gunicorn worker and host shares them; a breach answers 429.
    RATELIMIT_ENABLED = True
    RATELIMIT_KEY_PREFIX = "ssp-limits"
    RATELIMIT_STORAGE_OPTIONS: ClassVar[dict] = {"socket_connect_timeout": 2, "socket_timeout": 2}
    # Redis unreachable: count per process in memory rather than fail the request
    RATELIMIT_SWALLOW_ERRORS = True
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    # failed staff logins from one client address (successful ones do not count)
    STAFF_LOGIN_IP_LIMIT = os.environ.get("STAFF_LOGIN_IP_LIMIT", "30 per 15 minutes")
    # failed staff logins of one username before it is locked until the window ends or an admin unlocks it
    STAFF_LOGIN_LOCKOUT = os.environ.get("STAFF_LOGIN_LOCKOUT", "10 per 15 minutes")
    # POST /auth/wechat and /auth/dev from one client address (carrier NAT puts many phones on one address)
    CITIZEN_LOGIN_IP_LIMIT = os.environ.get("CITIZEN_LOGIN_IP_LIMIT", "60 per minute; 1000 per hour")
    # per account (citizen or staff); an honest report has at most 9 photos
    PHOTO_UPLOAD_LIMIT = os.environ.get("PHOTO_UPLOAD_LIMIT", "30 per minute; 300 per day")
    REPORT_SUBMIT_LIMIT = os.environ.get("REPORT_SUBMIT_LIMIT", "10 per minute; 60 per day")
    # bytes of uploaded photos one account may keep that no report or reply uses yet (9 photos of 20 MB fit)
    UNATTACHED_PHOTO_QUOTA_BYTES = _env_int("UNATTACHED_PHOTO_QUOTA_BYTES", 200 * 1024 * 1024)
    # uploads never attached are deleted (row and files) after this long, checked every interval
    UNATTACHED_PHOTO_MAX_AGE_SECONDS = _env_int("UNATTACHED_PHOTO_MAX_AGE_SECONDS", 24 * 3600)
    UNATTACHED_PHOTO_PURGE_INTERVAL_SECONDS = _env_int("UNATTACHED_PHOTO_PURGE_INTERVAL_SECONDS", 3600)

    # 考核: weights of the composite score per indicator (rates; 返工率 and 退单率 count as 1 − rate)
    STATS_SCORE_WEIGHTS = _env_weights(
        "STATS_SCORE_WEIGHTS",
        "handled_on_time_rate:30,signoff_on_time_rate:15,closed_rate:15,satisfaction_rate:20,"
        "rework_rate:10,returned_rate:10",
    )
    STATS_RANK_MIN_CASES = _env_int("STATS_RANK_MIN_CASES", 3)  # fewer 派遣 in the period: not ranked
    STATS_LIST_SIZE = _env_int("STATS_LIST_SIZE", 3)  # units on the red list and on the black list
    # 月报 on the 1st, 半月通报 on the 1st and 16th, at this local hour, for the period just ended
    BRIEFING_HOUR = _env_int("BRIEFING_HOUR", 8)
    BRIEFING_CHECK_INTERVAL_SECONDS = _env_int("BRIEFING_CHECK_INTERVAL_SECONDS", 600)

    # Periodic sweep: reports and photos untouched for this long are enqueued again.
    SWEEP_INTERVAL_SECONDS = _env_int("SWEEP_INTERVAL_SECONDS", 60)
    SWEEP_GRACE_SECONDS = _env_int("SWEEP_GRACE_SECONDS", 30)
    # times the sweep re-creates the job of one object before it gives up and lists it in the health report
    SWEEP_MAX_ATTEMPTS = _env_int("SWEEP_MAX_ATTEMPTS", 10)

    # `python -m workers` (the resident worker, workers/supervisor.py): a job still running this many seconds
    # after its own timeout is stuck where RQ's timeout cannot reach it (C code, a lost signal); the supervisor
    # kills the worker process, fails (or retries) the job and starts a fresh worker.
    JOB_HANG_GRACE_SECONDS = _env_int("JOB_HANG_GRACE_SECONDS", 30)
    # a worker process whose resident memory exceeds this after a job is replaced by a fresh one (the next job
    # waits for the restart, a few seconds; the running job is never interrupted for it)
    WORKER_MAX_RSS_MB = _env_int("WORKER_MAX_RSS_MB", 1024)

    # Staff web console (/console): a session cookie, not a token. HttpOnly and SameSite always; Secure in production.
    SESSION_COOKIE_NAME = "ssp_console"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    CONSOLE_SESSION_TTL = _env_int("CONSOLE_SESSION_TTL", 12 * 3600)  # seconds after login the session ends
    # Map tiles for the console's maps, e.g. 天地图 or AMap: "https://host/path/{z}/{x}/{y}.png" (empty: regions and
    # pins on a blank background, as an intranet without a tile server sees them), and the tiles' coordinate system.
    CONSOLE_TILE_URL = os.environ.get("CONSOLE_TILE_URL", "")
    CONSOLE_TILE_COORD = os.environ.get("CONSOLE_TILE_COORD", "gcj02")
    CONSOLE_TILE_ATTRIBUTION = os.environ.get("CONSOLE_TILE_ATTRIBUTION", "")

    @classmethod
    def problems(cls, settings: dict) -> list[str]:
        """Why an app with these settings must not start (empty: it may)."""
        if not settings.get("SECRET_KEY"):
            return ["SECRET_KEY must be set"]
        return []


class DevelopmentConfig(Config):
    # The interactive debugger runs code sent by whoever reaches the port: only when asked for.
    DEBUG = _env_bool("FLASK_DEBUG", False)


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret"
    # Every test creates a dozen demo accounts; a slow hash would dominate the suite's run time.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    DEV_LOGIN_ENABLED = True
    WECHAT_APPID = "wx-test-appid"
    WECHAT_SECRET = "wx-test-secret"
    SWEEP_GRACE_SECONDS = 0
    # Limits stay on in tests, high enough for tests that log in and upload many times; tests of the limits
    # lower them on their app.
    STAFF_LOGIN_IP_LIMIT = "1000 per minute"
    CITIZEN_LOGIN_IP_LIMIT = "1000 per minute"
    PHOTO_UPLOAD_LIMIT = "1000 per minute"
    REPORT_SUBMIT_LIMIT = "1000 per minute"
    WECHAT_TEMPLATES: ClassVar[dict] = {
        kind: {
            "template_id": f"tmpl-{kind}",
            "page": "pages/report/detail?id={case_id}",
            "fields": {"character_string1": "number", "thing2": "category", "phrase3": "status", "time4": "at"},
        }
        for kind in ("case_dispatched", "case_replied", "case_rejected", "case_closed")
    }


class ProductionConfig(Config):
    """The default (APP_ENV unset): refuses to start without the settings a real deployment needs."""

    DEBUG = False
    DEV_LOGIN_ENABLED = False
    # the console's cookie travels over HTTPS only (terminate TLS in front; BEHIND_PROXY for the scheme)
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    # No local fallback: a production process must be told where its database is.
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL", "")

    @classmethod
    def problems(cls, settings: dict) -> list[str]:
        found = []
        if len(settings.get("SECRET_KEY") or "") < MIN_SECRET_KEY_LENGTH:
            found.append(f"SECRET_KEY must be set to a random value of at least {MIN_SECRET_KEY_LENGTH} characters")
        if not settings.get("SQLALCHEMY_DATABASE_URI"):
            found.append("DATABASE_URL must be set")
        if not settings.get("REDIS_URL"):
            found.append("REDIS_URL must be set")
        if not (settings.get("WECHAT_APPID") and settings.get("WECHAT_SECRET")):
            found.append("WECHAT_APPID and WECHAT_SECRET must be set")
        if settings.get("DEBUG") or _env_bool("FLASK_DEBUG"):
            found.append("DEBUG (FLASK_DEBUG) is not allowed in production")
        if settings.get("DEV_LOGIN_ENABLED") or _env_bool("DEV_LOGIN_ENABLED"):
            found.append("DEV_LOGIN_ENABLED is not allowed in production")
        return found


# What APP_ENV may name. TestingConfig is not among them: the test suite passes it to create_app itself,
# so no deployment can pick its fixed secret by setting an environment variable.
CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """APP_ENV unset means production: a forgotten variable must fail closed, never run the development setup."""
    name = os.environ.get("APP_ENV", "").strip() or "production"
    if name not in CONFIGS:
        raise RuntimeError(f"APP_ENV={name!r} is not one of: {', '.join(CONFIGS)}")
    return CONFIGS[name]
