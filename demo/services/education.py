"""Education bureau: childcare and school enrolment of minors."""
from __future__ import annotations

from demo.services.common import Resource, Service

SERVICE = Service(
    slug="education",
    prefix="/edu/api",
    resources=(Resource("students", "student", "student_id_card", "area_code",
                        ("student_id_card", "stage_code", "school_name")),),
    place_param="area_prefix",
    paging="cursor",
    position_param="cursor",
    size_param="size",
    items_path="result.records",
    total_path=None,
    next_path="result.next_cursor",
    item_path="result",
    envelope={"success": True},
)
