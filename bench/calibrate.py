"""How fast this box runs Python right now: a fixed loop's CPU time, best of five.

The benchmark box is a shared 2-vCPU VM: what a CPU second buys changes with its host's load (seen on
2026-12-07: the same loop 102 ms and 157 ms a few minutes apart, with no steal time shown). The benchmark
scripts print this before and after their runs, so figures taken at different times can be compared.

    .venv/bin/python -m bench.calibrate
"""

import time

STEPS = 2_000_000


def _loop() -> int:
    total = 0
    for i in range(STEPS):
        total += i * i % 7
    return total


def loop_ms(repeats: int = 5) -> float:
    """CPU milliseconds of the fixed loop, best of `repeats` (about 0.1 s each on the benchmark box)."""
    best = float("inf")
    for _ in range(repeats):
        began = time.process_time()
        _loop()
        best = min(best, time.process_time() - began)
    return best * 1000


def describe() -> str:
    return f"box speed: fixed Python loop {loop_ms():.0f} ms (lower is faster; 102–157 ms seen on 2026-12-07)"


if __name__ == "__main__":
    print(describe())
