"""Housing administration: subdistricts, committees, compounds, buildings, houses."""
from __future__ import annotations

from demo.services.common import Resource, Service

SERVICE = Service(
    slug="housing",
    prefix="/api/v1",
    resources=(
        Resource("subdistricts", "subdistrict", "streetCode", "streetCode", ("districtCode",), batch=True),
        Resource("committees", "committee", "committeeCode", "committeeCode", ("streetCode",), batch=True),
        Resource("compounds", "compound", "compoundCode", "compoundCode", ("committeeCode",), batch=True),
        Resource("buildings", "building", "buildingCode", "buildingCode", ("compoundCode", "elevator"), batch=True),
        Resource("houses", "house", "houseCode", "buildingCode", ("houseCode", "buildingCode", "houseNature"),
                 batch=True, groups=("buildingCode", "houseNature")),
    ),
    place_param="areaCode",
    paging="page",
    position_param="page",
    size_param="pageSize",
    items_path="data.list",
    total_path="data.total",
    next_path=None,
    item_path="data",
    envelope={"code": 0, "message": "ok"},
    batch_method="POST",
    batch_param="codes",
    batch_items_path="data.list",
)
