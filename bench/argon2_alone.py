"""What argon2 alone allows: verifications/s of the demo user's hash with pwdlib's
`PasswordHash.recommended()`, in this process (the bench runs it pinned to the server's cores),
from `--threads` threads at once (argon2-cffi releases the GIL). Prints one JSON object.

    taskset -c 0 python -m bench.argon2_alone --seconds 5 --threads 1
"""

from __future__ import annotations

import argparse
import json
import threading
import time

from pwdlib import PasswordHash

from core.users import DEMO_USERS

DEMO_HASH = DEMO_USERS[0].hashed_password
DEMO_PASSWORD = "secret"  # noqa: S105 (the tutorial's published demo password)


def measure(seconds: float, threads: int) -> dict[str, float]:
    hasher = PasswordHash.recommended()
    if not hasher.verify(DEMO_PASSWORD, DEMO_HASH):  # also the warm-up
        raise RuntimeError("the demo hash does not verify 'secret'")
    counts = [0] * threads
    deadline = time.perf_counter() + seconds

    def work(index: int) -> None:
        while time.perf_counter() < deadline:
            hasher.verify(DEMO_PASSWORD, DEMO_HASH)
            counts[index] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    total = sum(counts)
    return {"verifications": total, "seconds": elapsed, "per_s": total / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.argon2_alone", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(measure(args.seconds, args.threads)))


if __name__ == "__main__":
    main()
