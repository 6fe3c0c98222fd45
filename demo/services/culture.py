"""Culture centre: community events and registrations."""
from __future__ import annotations

from demo.services.common import Resource, Service

SERVICE = Service(
    slug="culture",
    prefix="/culture",
    resources=(
        Resource("events", "event", "eventId", "areaCode", ("eventId", "category"), batch=True),
        Resource("registrations", "registration", "regId", "areaCode", ("eventId", "idCard", "attended", "residentArea")),
    ),
    place_param="area",
    paging="offset",
    position_param="start",
    size_param="rows",
    items_path="response.docs",
    total_path="response.numFound",
    next_path=None,
    item_path="doc",
    batch_method="GET",
    batch_param="ids",
    batch_items_path="response.docs",
)
