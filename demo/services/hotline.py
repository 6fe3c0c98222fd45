"""Urban operations / 12345 hotline: complaints tied to addresses and shops."""
from __future__ import annotations

from demo.services.common import Resource, Service, Write

SERVICE = Service(
    slug="hotline",
    prefix="/api",
    resources=(Resource("complaints", "complaint", "case_no", "area_code",
                        ("case_no", "status", "category", "address_code", "credit_code"),
                        write=Write(("category", "summary", "area_code"), lambda n, now: f"{now:%Y%m%d}{n:05d}",
                                    stamp={"received_at": "%Y-%m-%d %H:%M:%S"})),),
    place_param="area_code_prefix",
    paging="cursor",
    position_param="page_token",
    size_param="page_size",
    items_path="cases",
    total_path=None,
    next_path="next_page_token",
    item_path="case",
)
