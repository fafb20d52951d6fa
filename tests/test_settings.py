"""Settings fail closed: an unset APP_ENV is production, no secret has a default, DEBUG is never on by default.

The settings classes read the environment when config.py is imported, so each case runs in a fresh interpreter
with exactly the environment under test."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import config
from backend import create_app

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = ("APP_ENV", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "WECHAT_APPID", "WECHAT_SECRET", "FLASK_DEBUG")
SETTINGS += ("DEV_LOGIN_ENABLED",)


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    clean = {key: value for key, value in os.environ.items() if key not in SETTINGS}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean | env, capture_output=True, text=True, timeout=120
    )


def _production_env(tmp_path) -> dict[str, str]:
    return {
        "SECRET_KEY": "k" * 48,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.db'}",
        "REDIS_URL": "redis://127.0.0.1:1/0",  # never contacted by the commands below
        "WECHAT_APPID": "wx-appid",
        "WECHAT_SECRET": "wx-secret",
    }


def test_without_app_env_the_wsgi_app_refuses_to_start():
    # `gunicorn wsgi:app` with nothing set used to run the development config with a public default key
    result = _run(["-c", "import wsgi"])
    assert result.returncode != 0
    assert "refusing to start (ProductionConfig)" in result.stderr
    for problem in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "WECHAT_APPID"):
        assert problem in result.stderr


def test_no_environment_has_a_default_secret_or_debug():
    probe = "import config; print([(c.__name__, c.SECRET_KEY, c.DEBUG) for c in config.CONFIGS.values()])"
    result = _run(["-c", probe], APP_ENV="development")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[('DevelopmentConfig', '', False), ('ProductionConfig', '', False)]"
    # development starts only with a key of its own (make run keeps one in var/), debug only when asked for
    refused = _run(["-c", "import wsgi"], APP_ENV="development")
    assert refused.returncode != 0 and "SECRET_KEY must be set" in refused.stderr
    debug = _run(["-c", "import wsgi; print(wsgi.app.debug)"], APP_ENV="development", SECRET_KEY="s", FLASK_DEBUG="1")
    assert debug.returncode == 0, debug.stderr
    assert debug.stdout.strip() == "True"


def test_app_env_names_only_development_or_production(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    assert config.config_from_env() is config.ProductionConfig
    monkeypatch.setenv("APP_ENV", "development")
    assert config.config_from_env() is config.DevelopmentConfig
    # the testing config's fixed secret cannot be chosen by a deployment's environment
    for name in ("testing", "prod", "dev"):
        monkeypatch.setenv("APP_ENV", name)
        with pytest.raises(RuntimeError, match="APP_ENV"):
            config.config_from_env()


def test_production_refuses_debug_and_dev_login(monkeypatch):
    for key, value in _production_env(Path("/nonexistent")).items():
        monkeypatch.setattr(config.ProductionConfig, "SQLALCHEMY_DATABASE_URI" if key == "DATABASE_URL" else key, value)
    assert create_app(config.ProductionConfig).debug is False
    with pytest.raises(RuntimeError, match="DEBUG"):
        create_app(config.ProductionConfig, {"DEBUG": True})
    with pytest.raises(RuntimeError, match="DEV_LOGIN_ENABLED"):
        create_app(config.ProductionConfig, {"DEV_LOGIN_ENABLED": True})
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(config.ProductionConfig, {"SECRET_KEY": "short"})


def test_operator_commands_run_with_the_production_variables(tmp_path):
    env = _production_env(tmp_path)
    upgraded = _run(["-m", "flask", "--app", "wsgi", "db", "upgrade"], **env)
    assert upgraded.returncode == 0, upgraded.stderr
    seeded = _run(["-m", "flask", "--app", "wsgi", "seed-demo"], **env)
    assert seeded.returncode == 0, seeded.stderr
    assert "demo district loaded" in seeded.stdout
