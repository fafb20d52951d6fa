"""`python -m workers`: one worker on all queues, RQ's retry scheduler and the periodic table (workers.runner)."""

import logging
import sys

from redis import Redis

from backend import create_app
from workers.runner import run
from workers.scheduler import periodic_table


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app()
    if not app.config["REDIS_URL"]:
        print("REDIS_URL is not set (scripts/run_dev.py starts an embedded Redis for you)", file=sys.stderr)
        return 2
    connection = Redis.from_url(app.config["REDIS_URL"], socket_connect_timeout=5, health_check_interval=30)
    # Jobs run in forked work horses that inherit this app context.
    with app.app_context():
        return run(connection, periodic_table(app.config))


if __name__ == "__main__":
    sys.exit(main())
