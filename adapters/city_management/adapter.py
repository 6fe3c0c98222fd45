"""City management keys shops by its own QR ids; its /cg/shops resource is the crosswalk
QR id -> unified social credit code. This `class:` adapter is the generic http kind plus
that crosswalk: credit codes asked for are turned into QR ids before the call, and the
QR ids in the answer are turned back into credit codes. The crosswalk is the
department's data, re-read every few minutes.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from adapters.base import Eq, ListQuery, Page, Record, Records
from adapters.http import HttpAdapter
from adapters.spec import HttpList, Paging
from common.errors import AdapterRejectedError

CROSSWALK = HttpList(path="/cg/shops", items="result.list", scope_param="grid",
                     paging=Paging(style="page", page_param="pageNo", size_param="pageSize", first_page=1,
                                   total="result.totalCount", max_size=500))
TTL_S = 300.0


class CityManagementAdapter(HttpAdapter):
    def __init__(self, loaded: Any) -> None:
        super().__init__(loaded)
        self._qr_credit: dict[str, str] = {}
        self._credit_qrs: dict[str, list[str]] = {}
        self._at = -TTL_S

    async def _crosswalk(self) -> None:
        if time.monotonic() - self._at < TTL_S:
            return
        rows, _ = await self._page_through(CROSSWALK, {}, 0, None, False)
        qr_credit = {str(r["qrId"]).strip(): str(r["creditCode"]).strip().upper()
                     for r in rows if r.get("qrId") and r.get("creditCode")}
        credit_qrs: dict[str, list[str]] = {}
        for qr, credit in qr_credit.items():
            credit_qrs.setdefault(credit, []).append(qr)
        self._qr_credit, self._credit_qrs, self._at = qr_credit, credit_qrs, time.monotonic()

    def _to_credit(self, records: list[Record]) -> list[Record]:
        for r in records:
            if "creditCode" in r:
                r["creditCode"] = self._qr_credit.get(str(r["creditCode"]))
        return records

    async def list(self, entity: str, query: ListQuery) -> Page:
        await self._crosswalk()
        cond = query.filters.get("creditCode")
        if isinstance(cond, Eq):
            qrs = tuple(q for c in cond.values for q in self._credit_qrs.get(str(c), ()))
            if not qrs:
                return Page([], 0 if query.count else None)
            query = ListQuery(query.scope, {**query.filters, "creditCode": Eq(qrs)}, query.keys_in,
                              query.offset, query.limit, query.count)
        page = await super().list(entity, query)
        return Page(self._to_credit(page.records), page.total)

    async def fetch_by(self, entity: str, field: str, values: Sequence[Any]) -> Records:
        await self._crosswalk()
        records = await super().fetch_by(entity, field, values)
        # lookups by other fields went through list(), which already translated
        return self._to_credit(records) if field == self.maps[entity].key else records

    async def write(self, entity: str, values: Mapping[str, Any], request_key: str) -> Record:
        """An inspection recorded against the shop's QR id (its first, when it has several)."""
        await self._crosswalk()
        if "creditCode" in values:
            qrs = self._credit_qrs.get(str(values["creditCode"]))
            if not qrs:
                raise AdapterRejectedError(f"department {self.name} has no QR code for this shop",
                                           department=self.name, reason="no_qr_code")
            values = {**values, "creditCode": qrs[0]}
        return self._to_credit([await super().write(entity, values, request_key)])[0]
