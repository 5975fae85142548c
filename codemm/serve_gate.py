"""Admission for `codemm serve`: ``slots`` generations at once, at most ``queue`` requests waiting
for one, and the rest refused at once (429 with Retry-After) rather than queued without bound."""

from __future__ import annotations

import asyncio


class Gate:
    """``slots`` holders at once, ``queue`` more waiting, the rest refused. Used only on the event
    loop, so its counters need no lock."""

    def __init__(self, slots: int, queue: int) -> None:
        self.slots, self.queue = slots, queue
        self._free = asyncio.Semaphore(slots)
        self.admitted = 0
        self.running = 0
        self.mean_s = 5.0
        """Recent generation time (an exponential average): what Retry-After is made of."""

    def admit(self) -> Ticket | None:
        if self.admitted >= self.slots + self.queue:
            return None
        self.admitted += 1
        return Ticket(self)

    def retry_after(self) -> int:
        rounds = (self.admitted - self.running) / self.slots + 1
        return max(1, min(60, round(self.mean_s * rounds)))


class Ticket:
    """One admitted request: waits for a slot, holds it, gives it back once (whatever happens)."""

    def __init__(self, gate: Gate) -> None:
        self.gate, self.holding, self.released = gate, False, False

    async def acquire(self) -> None:
        await self.gate._free.acquire()
        self.holding = True
        self.gate.running += 1

    def release(self, seconds: float | None = None) -> None:
        if self.released:
            return
        self.released = True
        gate = self.gate
        gate.admitted -= 1
        if self.holding:
            gate.running -= 1
            gate._free.release()
        if seconds is not None:
            gate.mean_s = 0.8 * gate.mean_s + 0.2 * seconds
