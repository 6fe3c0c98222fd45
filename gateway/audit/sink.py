"""The extension point of the audit step (DESIGN step 7): one record per request.

``AuditSink`` receives each request's ``entry`` dict (built by the GraphQL view) and says
whether it can take more. The default keeps nothing; ``AuditStore`` (gateway/audit/store.py)
is the tamper-evident one the gateway builds. A complete sink fits on a page::

    class PrintSink(AuditSink):
        def record(self, entry: dict[str, object]) -> None:
            print(entry)

``admits(sensitive)`` is asked before a request runs: a sink that cannot keep what it is
given answers False for requests that would release identity or sensitive-category fields,
and the request is refused (AUDIT_UNAVAILABLE) instead of releasing them unrecorded.
"""
from __future__ import annotations

from typing import Any


class AuditSink:
    """Keeps nothing and admits everything (tests, benchmarks with the audit off)."""

    def record(self, entry: dict[str, Any]) -> None:
        """Take one request's entry; never raises, never blocks."""

    def admits(self, sensitive: bool) -> bool:
        """May a request run that releases identity or sensitive-category fields (``sensitive``) or not?"""
        return True

    def status(self) -> dict[str, Any]:
        """What /readyz shows about the sink."""
        return {"status": "off"}

    async def start(self) -> None:
        """Called once the event loop runs (application start-up)."""

    async def stop(self) -> None:
        """Called at application shutdown: keep everything taken so far."""
