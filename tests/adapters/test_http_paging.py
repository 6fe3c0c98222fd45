"""The HTTP adapter asks a department for the rows a listing needs, not its largest page."""
from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from adapters.http import HttpAdapter
from adapters.spec import Paging

ROWS = [{"n": i} for i in range(1234)]


class Service:
    """A department listing 1,234 rows by page or offset; records the sizes asked for."""

    def __init__(self, paging: Paging) -> None:
        self.paging = paging
        self.asked: list[dict[str, Any]] = []

    async def get_json(self, method: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        self.asked.append(params)
        p = self.paging
        size = params[p.size_param]
        start = (params[p.page_param] - p.first_page) * size if p.style == "page" else params[p.offset_param]
        return {"items": ROWS[start:start + size], "total": len(ROWS)}


def adapter(service: Service) -> HttpAdapter:
    a = HttpAdapter.__new__(HttpAdapter)
    a._get_json = service.get_json  # type: ignore[method-assign,assignment]
    a._items = lambda body, path: body[path]  # type: ignore[method-assign,assignment,misc]
    return a


@pytest.mark.parametrize("style", ["page", "offset"])
@pytest.mark.parametrize(("offset", "limit", "sizes"), [(0, 2, [2]), (0, 21, [21]), (5, 10, [15]), (0, 0, [1]),
                                                        (0, 600, [500, 500]), (0, None, [500, 500, 500])])
async def test_page_size_follows_the_rows_wanted(style: str, offset: int, limit: int | None,
                                                 sizes: list[int]) -> None:
    paging = Paging(style=style, total="total", max_size=500)  # type: ignore[arg-type]
    svc = Service(paging)
    lst = SimpleNamespace(paging=paging, path="/list", items="items")
    rows, total = await adapter(svc)._page_through(lst, {}, offset, limit, True)  # type: ignore[arg-type]
    assert [q[paging.size_param] for q in svc.asked] == sizes
    assert rows == ROWS[offset:None if limit is None else offset + limit]
    assert total == len(ROWS)


async def test_without_a_total_a_count_reads_full_pages() -> None:
    paging = Paging(style="page", max_size=500)
    svc = Service(paging)
    lst = SimpleNamespace(paging=paging, path="/list", items="items")
    rows, total = await adapter(svc)._page_through(lst, {}, 0, 3, True)  # type: ignore[arg-type]
    assert [q["size"] for q in svc.asked] == [500] and rows == ROWS[:3] and total is None
