"""Greening and city appearance: shop-front and waste-sorting compliance per shop."""
from __future__ import annotations

from demo.services.common import Resource, Service

SERVICE = Service(
    slug="greening",
    prefix="",
    resources=(Resource("shops", "appearance", "creditCode", "areaCode", ("creditCode", "shopFront", "wasteSorting"),
                        batch=True),),
    place_param="area",
    paging="cursor",
    position_param="after",
    size_param="first",
    items_path="records",
    total_path=None,
    next_path="next",
    item_path="shop",
    batch_method="GET",
    batch_param="codes",
    batch_items_path="records",
)
