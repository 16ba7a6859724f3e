"""Injected failures: error answers and HTTP 429s queued per method."""

from collections import defaultdict, deque

from .calls import Reply


class Faults:
    """Per-method queues of canned failures, used up one call at a time."""

    def __init__(self) -> None:
        self._queues: defaultdict[str, deque[Reply]] = defaultdict(deque)

    def fail(self, method: str, error: str, times: int) -> None:
        """Answer the next `times` calls to method with {"ok": false, "error": error}."""
        self._queues[method].extend([Reply({"ok": False, "error": error})] * times)

    def rate_limit(self, method: str, retry_after: int, times: int) -> None:
        """Answer the next `times` calls to method with HTTP 429 and Retry-After."""
        reply = Reply(
            {"ok": False, "error": "ratelimited"},
            status=429,
            headers={"Retry-After": str(retry_after)},
        )
        self._queues[method].extend([reply] * times)

    def take(self, method: str) -> Reply | None:
        """The next queued failure for method, if any."""
        queue = self._queues.get(method)
        return queue.popleft() if queue else None
