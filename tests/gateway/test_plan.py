"""`gateway plan canteen` as a user runs it (a subprocess against a gateway on loopback), and the choice
of sites it makes."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gateway.canteen import Site, demand, metres, proposals
from tests.helpers import Api

GATEWAY = str(Path(sys.executable).with_name("gateway"))


def test_the_canteen_map_for_a_subdistrict_officer(api: Api, tmp_path: Path) -> None:
    out = tmp_path / "canteen.png"
    p = subprocess.run([GATEWAY, "plan", "canteen", "--url", api.base, "--token", api.token("subdistrict_officer"),
                        "-o", str(out)], capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert "canteens: F001" in p.stdout, p.stdout  # the three canteens of the demo's west
    assert "proposal 1: cell G250-E" in p.stdout or "no proposal: every resident" in p.stdout, p.stdout


def test_a_caller_without_the_grants_gets_a_code_and_no_file(api: Api, tmp_path: Path) -> None:
    out = tmp_path / "canteen.png"
    for token, code in ((api.token("committee_worker", "310107005001"), "[UNAUTHORIZED_FIELD_OR_TYPE]"),
                        ("x.y.z", "[INVALID_TOKEN]")):
        p = subprocess.run([GATEWAY, "plan", "canteen", "--url", api.base, "--token", token, "-o", str(out)],
                           capture_output=True, text=True, timeout=120, check=False)
        assert p.returncode == 1 and code in p.stderr, p.stderr
        assert not out.exists()


def _cell(col: int, row: int) -> str:
    return f"G250-E{col:04d}-N{row:04d}"


def test_demand_counts_residents_aged_60_and_more_per_cell() -> None:
    cells = [{"gridCell": _cell(1, 1), "ageBand": "AGE_60_69", "count": 10},
             {"gridCell": _cell(1, 1), "ageBand": "AGE_80_PLUS", "count": 5},
             {"gridCell": _cell(1, 1), "ageBand": "AGE_35_59", "count": 50},
             {"gridCell": "UNLOCATED", "ageBand": "AGE_70_79", "count": 5}]
    assert demand(cells) == {_cell(1, 1): 15}


def test_sites_go_where_no_canteen_reaches_the_most_demand() -> None:
    from common.grid import centre

    need = {_cell(10, 10): 100, _cell(11, 10): 50, _cell(30, 10): 80, _cell(31, 10): 70}
    canteen = centre(_cell(10, 10))  # the west pair is served already
    [first] = proposals(need, [canteen], n=3)  # one site reaches both cells of the east pair: none is left
    assert isinstance(first, Site) and first.cell in (_cell(30, 10), _cell(31, 10)) and first.covers == 150
    assert proposals({_cell(10, 10): 5}, [canteen]) == []
    assert 240 < metres(centre(_cell(10, 10)), centre(_cell(11, 10))) < 260
