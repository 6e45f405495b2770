"""Progress lines for long jobs: count, rate and time left, at most every few seconds."""

import sys
import time


class Progress:
    def __init__(self, task: str, total: int, every_s: float = 5.0) -> None:
        self.task, self.total, self.every_s = task, total, every_s
        self.done = 0
        self.start = self.last = time.monotonic()

    def step(self, amount: int = 1, note: str = "") -> None:
        self.done += amount
        now = time.monotonic()
        if now - self.last < self.every_s and self.done < self.total:
            return
        self.last = now
        elapsed = now - self.start
        left = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        print(
            f"{self.task}: {self.done}/{self.total} ({elapsed:.0f} s, ~{left:.0f} s left) {note}",
            file=sys.stderr,
            flush=True,
        )
