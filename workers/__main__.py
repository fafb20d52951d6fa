"""`python -m workers`: one worker on all queues, with RQ's scheduler (retries) and the periodic table."""

import logging
import sys

from redis import Redis

from backend import create_app
from workers.queues import ALL_QUEUES
from workers.scheduler import Scheduler, periodic_table
from workers.worker import AppWorker


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    if not app.config["REDIS_URL"]:
        print("REDIS_URL is not set (scripts/run_dev.py starts an embedded Redis for you)", file=sys.stderr)
        return 2
    connection = Redis.from_url(app.config["REDIS_URL"])
    # Jobs run in forked work horses that inherit this app context.
    with app.app_context():
        Scheduler(connection, periodic_table(app.config)).start()
        worker = AppWorker(ALL_QUEUES, connection=connection)
        worker.work(with_scheduler=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
