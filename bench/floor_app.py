"""The least a create can be on this box: WSGI apps that do part of what POST /reports does, for bench/floor.py.

FLOOR_LEVEL picks how much (each level does what the one before does, and more):

- http: read the request body, answer 201 with a small JSON (gunicorn's sync worker, nothing else);
- flask: a Flask view that parses the multipart form (werkzeug) and answers with jsonify;
- store: and stores the report: SHA-256 and a file write of the photo, one INSERT … RETURNING with a
  connection kept per worker (psycopg, autocommit off: BEGIN, INSERT, COMMIT), one RPUSH of the id to Redis:
  the same guarantees as ours (row committed, file on disk, job in Redis before the answer), none of the
  checks (no token, no rate limit, no idempotency key, no category, no photo header read, no schema);
- store-sqlalchemy: the same INSERT through SQLAlchemy Core (`engine.begin()`, a compiled `insert()`).

Not part of the product: it is the yardstick for bench/floor.py, which runs it under the same gunicorn
settings, database and client as our API.
"""

import hashlib
import json
import os
import uuid
from pathlib import Path

LEVEL = os.environ.get("FLOOR_LEVEL", "http")
ANSWER = json.dumps({"id": 1, "status": "submitted"}).encode()

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS floor_reports (
    id bigserial PRIMARY KEY,
    category text NOT NULL,
    description text NOT NULL,
    lat double precision NOT NULL,
    lng double precision NOT NULL,
    address text NOT NULL,
    photo_path text NOT NULL,
    photo_sha256 text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""
INSERT = (
    "INSERT INTO floor_reports (category, description, lat, lng, address, photo_path, photo_sha256)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id"
)


def http_app(environ, start_response):
    stream = environ["wsgi.input"]
    while stream.read(256 * 1024):
        pass
    start_response("201 Created", [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))])
    return [ANSWER]


def _flask_app():
    from flask import Flask, jsonify, request

    app = Flask(__name__)
    media = Path(os.environ.get("MEDIA_ROOT", "/tmp/floor-media"))
    media.mkdir(parents=True, exist_ok=True)
    store = _store() if LEVEL.startswith("store") else None

    @app.post("/api/v1/reports")
    def create():
        form = request.form
        photo = request.files["file"].read()
        fields = (form["category"], form["description"], float(form["lat"]), float(form["lng"]), form["address"])
        if store is None:
            return jsonify(id=1, status="submitted"), 201
        name = f"{uuid.uuid4().hex}.jpg"
        digest = hashlib.sha256(photo).hexdigest()
        (media / name).write_bytes(photo)
        case_id = store(fields, name, digest)
        return jsonify(id=case_id, status="submitted"), 201

    return app


def _store():
    import redis

    queue = redis.Redis.from_url(os.environ["REDIS_URL"])
    url = os.environ["DATABASE_URL"]
    if LEVEL == "store-sqlalchemy":
        from sqlalchemy import MetaData, Table, create_engine, insert

        engine = create_engine(url, pool_size=1)
        table = Table("floor_reports", MetaData(), autoload_with=engine)
        statement = insert(table).returning(table.c.id)
        names = ("category", "description", "lat", "lng", "address", "photo_path", "photo_sha256")

        def store(fields, name, digest):
            row = dict(zip(names, (*fields, name, digest), strict=True))
            with engine.begin() as connection:
                case_id = connection.execute(statement, row).scalar_one()
            queue.rpush("floor:jobs", case_id)
            return case_id

        return store

    import psycopg

    state = {}

    def store(fields, name, digest):
        connection = state.get("connection")
        if connection is None or connection.closed:
            connection = state["connection"] = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))
        with connection.transaction():
            case_id = connection.execute(INSERT, (*fields, name, digest)).fetchone()[0]
        queue.rpush("floor:jobs", case_id)
        return case_id

    return store


app = http_app if LEVEL == "http" else _flask_app()
