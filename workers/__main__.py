"""`python -m workers`: one worker on all queues, RQ's retry scheduler and the periodic table.

python -m workers           the resident worker (a process that keeps the app, its database connection
                            and caches across jobs) under a supervisor process (workers.supervisor)
python -m workers --fork    RQ's forking worker: a fresh process per job (workers.runner)
"""

import argparse
import logging
import sys

from backend import create_app
from workers.lifeline import LifelineWriter
from workers.queues import ALL_QUEUES
from workers.runner import connect, run_forking, serve
from workers.scheduler import periodic_table
from workers.supervisor import run_supervised
from workers.worker import ResidentWorker, die_with_parent


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--fork", action="store_true", help="RQ's forking worker: a fresh process per job")
    # the supervisor's child process (workers.supervisor.resident_child_command), not for operators
    parser.add_argument("--resident-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--supervisor-pid", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--lifeline-fd", type=int, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if args.resident_child:
        die_with_parent(args.supervisor_pid)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [%(process)d] %(name)s %(levelname)s %(message)s")
    app = create_app()
    if not app.config["REDIS_URL"]:
        print("REDIS_URL is not set (scripts/run_dev.py starts an embedded Redis for you)", file=sys.stderr)
        return 2
    redis_url = app.config["REDIS_URL"]
    if args.resident_child:
        lifeline = LifelineWriter(args.lifeline_fd)
        connection = connect(redis_url, dequeues=True)
        return serve(connection, lambda: ResidentWorker(ALL_QUEUES, connection=connection, app=app, lifeline=lifeline))
    if args.fork:
        # Jobs run in forked work horses that inherit this app context.
        with app.app_context():
            return run_forking(redis_url, periodic_table(app.config))
    return run_supervised(connect(redis_url), app.config, periodic_table(app.config))


if __name__ == "__main__":
    sys.exit(main())
