"""What a create costs, pinned: SQL statements of POST /photos, POST /reports and its replay, and the Redis round
trips of the enqueue after commit. A re-read, a lazy load or a new per-request query fails here (bench/README.md,
"Creates", has the figures these counts buy)."""

import contextlib
import io

import pytest
import redis.connection
from limits import parse_many
from PIL import Image
from rq.job import Job, JobStatus
from sqlalchemy import event

from backend.extensions import db
from tests.helpers import jpeg_bytes
from workers.queues import PROCESS_PHOTO, ROUTE_CASE, enqueue_batch, process_photo_job, route_case_job

UPLOAD_STATEMENTS = 3  # the token's user, the upload quota, INSERT photo
SUBMIT_STATEMENTS = 6  # the token's user, the key, the category, INSERT case, INSERT event, UPDATE photos … RETURNING
# the token's user, the key's case id, the case with category and unit, its photos, events, the events' photos
REPLAY_STATEMENTS = 6
# one multipart request: the token's user, the key, the category, INSERT case, INSERT event, INSERT photo
ONE_REQUEST_STATEMENTS = 6


@contextlib.contextmanager
def counted_statements(app):
    """Every statement the app sends to the database inside the block."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


@contextlib.contextmanager
def counted_round_trips(monkeypatch):
    """Every request written to Redis inside the block (a pipeline is one)."""
    sent: list[int] = []
    original = redis.connection.AbstractConnection.send_packed_command

    def send(self, command, check_health=True):
        sent.append(1)
        return original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", send)
    yield sent
    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", original)


def _report(photo_ids):
    return {
        "category": "illegal_ad",
        "description": "电线杆上贴满了小广告",
        "location": {"lat": 26.50, "lng": 101.70, "coord": "gcj02"},
        "address": "大河中路 88 号",
        "photo_ids": photo_ids,
    }


def test_statements_of_an_upload_a_report_and_its_replay(api, app):
    citizen = api.login_citizen()
    api.submit_ok(citizen, key="warm-up")  # first-request work (caches, prepared statements) is not counted

    photo = jpeg_bytes()
    with counted_statements(app) as statements:
        uploaded = api.upload(citizen, photo)
    assert uploaded.status_code == 201
    assert len(statements) <= UPLOAD_STATEMENTS, statements

    with counted_statements(app) as statements:
        created = api.post(
            "/api/v1/reports", citizen, json=_report([uploaded.json["id"]]), headers={"Idempotency-Key": "k"}
        )
    assert created.status_code == 201, created.json
    assert len(statements) <= SUBMIT_STATEMENTS, statements
    assert not [s for s in statements if s.lstrip().upper().startswith("SELECT CASES")][1:], "the case was re-read"

    with counted_statements(app) as statements:
        replayed = api.post(
            "/api/v1/reports", citizen, json=_report([uploaded.json["id"]]), headers={"Idempotency-Key": "k"}
        )
    assert replayed.status_code == 200
    assert len(statements) <= REPLAY_STATEMENTS, statements
    assert replayed.json == created.json


def test_statements_of_a_report_sent_with_its_photo(api, app, redis, monkeypatch):
    """One multipart request: no upload quota read (the photo is attached at once), no UPDATE of photos, and
    both jobs in one Redis round trip after the commit."""
    citizen = api.login_citizen()
    api.submit_ok(citizen, key="warm-up")
    form = {"category": "illegal_ad", "lat": "26.5", "lng": "101.7", "coord": "gcj02"}

    def create(key):
        data = {**form, "file": (io.BytesIO(jpeg_bytes()), "photo.jpg", "image/jpeg")}
        headers = {**api.auth(citizen), "Idempotency-Key": key}
        return api.client.post("/api/v1/reports", headers=headers, data=data, content_type="multipart/form-data")

    limits = len(parse_many(app.config["REPORT_SUBMIT_LIMIT"]))
    with counted_statements(app) as statements, counted_round_trips(monkeypatch) as sent:
        created = create("one")
    assert created.status_code == 201, created.json
    assert len(statements) <= ONE_REQUEST_STATEMENTS, statements
    assert len(sent) <= limits + 1, f"{len(sent)} round trips: one per rate limit window, one for both jobs"
    photo_id = created.json["photos"][0]["id"]
    assert redis.lrange("rq:queue:photos", 0, -1)[-1] == f"process-photo-{photo_id}".encode()
    assert redis.lrange("rq:queue:routing", 0, -1)[-1] == f"route-case-{created.json['id']}".encode()

    with counted_statements(app) as statements:
        replayed = create("one")
    assert replayed.status_code == 200 and replayed.json == created.json
    assert len(statements) <= REPLAY_STATEMENTS, statements


def test_the_answer_from_memory_is_what_a_read_gives(api):
    """The report is answered from the objects just written: it must equal what GET and a replay read back,
    photos in the same order (by id, whatever the order sent) and the timeline as stored."""
    citizen = api.login_citizen()
    first, second, third = (api.upload_ok(citizen) for _ in range(3))
    created = api.post(
        "/api/v1/reports", citizen, json=_report([third, first, second]), headers={"Idempotency-Key": "order"}
    )
    assert created.status_code == 201, created.json
    assert [photo["id"] for photo in created.json["photos"]] == [first, second, third]
    assert [event["type"] for event in created.json["timeline"]] == ["submitted"]
    assert created.json["unit"] is None and created.json["reply"] is None and created.json["rating"] is None
    assert api.get(f"/api/v1/reports/{created.json['id']}", citizen).json == created.json
    replayed = api.post(
        "/api/v1/reports", citizen, json=_report([first, second, third]), headers={"Idempotency-Key": "order"}
    )
    assert replayed.status_code == 200 and replayed.json == created.json


def test_a_refused_photo_attaches_none_and_creates_nothing(api, app):
    """The photos are checked and attached in one UPDATE: if one is refused, the others stay free."""
    citizen, other = api.login_citizen(), api.login_citizen()
    mine, theirs = api.upload_ok(citizen), api.upload_ok(other)
    response = api.submit(citizen, photo_ids=[mine, theirs])
    assert response.status_code == 422
    assert response.json["error"]["fields"]["photo_ids"] == [f"图片 {theirs} 不存在"]
    assert api.submit(citizen, photo_ids=[mine]).status_code == 201  # still free
    with app.app_context():
        from backend.models import Case

        assert db.session.scalar(db.select(db.func.count(Case.id))) == 1


def test_a_report_is_one_round_trip_to_redis_after_commit(api, app, redis, monkeypatch, run_jobs):
    citizen = api.login_citizen()
    api.submit_ok(citizen)  # warm-up
    photo_id = api.upload_ok(citizen)
    limits = len(parse_many(app.config["REPORT_SUBMIT_LIMIT"]))
    with counted_round_trips(monkeypatch) as sent:
        report = api.submit_ok(citizen, photo_ids=[photo_id])
    assert len(sent) <= limits + 1, f"{len(sent)} round trips: one per rate limit window, one for the job"
    assert redis.lrange("rq:queue:routing", 0, -1)[-1] == f"route-case-{report['id']}".encode()
    run_jobs()
    assert api.get(f"/api/v1/reports/{report['id']}", citizen).json["status"] == "dispatched"


def test_the_batch_enqueue_loads_its_script_and_defers_to_enqueue_unique_for_a_taken_id(app, redis, monkeypatch):
    with app.app_context():
        redis.script_flush()  # as after a Redis restart: the script is loaded again, nothing is lost
        enqueue_batch(redis, [route_case_job(1), process_photo_job(2)])
        assert redis.lrange("rq:queue:routing", 0, -1) == [b"route-case-1"]
        assert redis.lrange("rq:queue:photos", 0, -1) == [b"process-photo-2"]
        assert {b"rq:queue:routing", b"rq:queue:photos"} <= redis.smembers("rq:queues")
        job = Job.fetch("route-case-1", connection=redis)  # what RQ's unique enqueue would have saved
        assert (job.func_name, job.args, job.origin, job.get_status()) == (ROUTE_CASE, (1,), "routing", "queued")
        assert (job.timeout, job.result_ttl, job.retries_left) == (120, 600, 5)
        assert Job.fetch("process-photo-2", connection=redis).func_name == PROCESS_PHOTO

        with counted_round_trips(monkeypatch) as sent:
            enqueue_batch(redis, [route_case_job(3), route_case_job(4), process_photo_job(5)])
        assert len(sent) == 1

        # a job with that id still waiting: left alone, not pushed twice (RQ's unique=True)
        enqueue_batch(redis, [route_case_job(1)])
        assert redis.lrange("rq:queue:routing", 0, -1).count(b"route-case-1") == 1
        # one that has finished: replaced, as enqueue_unique does (a case routed again after a return)
        redis.lrem("rq:queue:routing", 0, "route-case-1")
        job.set_status(JobStatus.FINISHED)
        enqueue_batch(redis, [route_case_job(1)])
        assert redis.lrange("rq:queue:routing", 0, -1).count(b"route-case-1") == 1
        assert Job.fetch("route-case-1", connection=redis).get_status() == JobStatus.QUEUED


@pytest.mark.parametrize("noisy", [False, True])
def test_an_upload_is_parsed_in_memory(api, monkeypatch, noisy):
    """No temporary file, also for an upload over werkzeug's 500 KB (its default spools those to disk)."""
    import werkzeug.formparser

    def no_temporary_file(*args, **kwargs):
        raise AssertionError("an upload went to a temporary file")

    monkeypatch.setattr(werkzeug.formparser, "SpooledTemporaryFile", no_temporary_file)
    monkeypatch.setattr(werkzeug.formparser, "TemporaryFile", no_temporary_file, raising=False)
    if noisy:  # about 2.8 MB: read in several steps of backend.request.MULTIPART_READ_SIZE
        out = io.BytesIO()
        Image.effect_noise((2000, 1500), 60).convert("RGB").save(out, "JPEG", quality=95)
        data = out.getvalue()
        assert len(data) > 2_000_000
    else:
        data = jpeg_bytes()
    citizen = api.login_citizen()
    response = api.upload(citizen, data)
    assert response.status_code == 201, response.json
    assert (response.json["width"], response.json["height"]) == ((2000, 1500) if noisy else (640, 480))
