"""City management enforcement: shop QR ids, inspections, violations, illegal construction."""
from __future__ import annotations

from demo.services.common import Resource, Service, Write

SERVICE = Service(
    slug="city_management",
    prefix="/cg",
    resources=(
        Resource("shops", "shop_qr", "qrId", "gridCode", ("qrId", "creditCode")),
        Resource("inspections", "inspection", "inspectionId", "gridCode", ("qrId", "result", "dept"),
                 write=Write(("qrId", "checkDate", "result", "inspector", "dept", "gridCode"),
                             lambda n, now: f"XJ{n:07d}")),
        Resource("violations", "violation", "caseNo", "gridCode", ("qrId", "status", "violationType")),
        Resource("construction-cases", "construction_case", "caseNo", "gridCode", ("addressCode", "status")),
    ),
    place_param="grid",
    paging="page",
    position_param="pageNo",
    size_param="pageSize",
    items_path="result.list",
    total_path="result.totalCount",
    next_path=None,
    item_path="result.detail",
    envelope={"status": "SUCCESS"},
)
