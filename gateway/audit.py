"""The audit step of the pipeline (DESIGN step 7): one record per request.

``AuditSink`` is the extension point; the default keeps records in the process log.
A complete sink fits on a page:

    class PrintSink(AuditSink):
        def record(self, entry: dict[str, object]) -> None:
            print(entry)
"""
from __future__ import annotations

import logging

log = logging.getLogger("gateway.audit")


class AuditSink:
    def record(self, entry: dict[str, object]) -> None:
        log.debug("audit %s", entry)
