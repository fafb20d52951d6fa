from rq import Worker

from backend.extensions import db


class AppWorker(Worker):
    """RQ's forking worker, made safe for SQLAlchemy: a work horse never reuses a pooled
    connection it inherited through fork (the SQLAlchemy docs' multiprocessing recipe)."""

    def main_work_horse(self, *args, **kwargs):
        db.engine.dispose(close=False)
        return super().main_work_horse(*args, **kwargs)
