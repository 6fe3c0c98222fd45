"""Health commission: family-doctor contracts and chronic-disease flags."""
from __future__ import annotations

from demo.services.common import Resource, Service

SERVICE = Service(
    slug="health",
    prefix="/v1",
    resources=(Resource("health-records", "health_record", "idCard", "areaCode", ("idCard", "htn", "dm", "doctorName"),
                        batch=True),),
    place_param="orgArea",
    paging="offset",
    position_param="offset",
    size_param="limit",
    items_path="data.items",
    total_path="data.total",
    next_path=None,
    item_path="data.record",
    envelope={"code": 0, "msg": "success"},
    batch_method="POST",
    batch_param="idCards",
    batch_items_path="data.items",
)
