from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policies.masks import MASKS, apply_mask, mask_address, mask_id_number, mask_name, mask_phone


def test_examples_from_the_issue() -> None:
    assert mask_id_number("310107198001011234") == "310107********1234"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三明") == "张*明"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳小明") == "欧**明"


@pytest.mark.parametrize("kind", sorted(MASKS))
def test_none_and_empty_are_safe(kind: str) -> None:
    assert MASKS[kind](None) is None
    assert MASKS[kind]("") == ""


@pytest.mark.parametrize(("raw", "masked"), [
    ("12345", "*****"), ("3101071234", "**********"), ("31010712345", "310107*2345"),
    ("31010719800101123X", "310107********123X"),
])
def test_short_and_odd_id_numbers(raw: str, masked: str) -> None:
    assert mask_id_number(raw) == masked


@pytest.mark.parametrize(("raw", "masked"), [("1234567", "*******"), ("12345678", "123*5678"), ("110", "***")])
def test_short_phones(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(("raw", "masked"), [("李", "*"), (" 王五 ", "王*"), ("Li", "L*")])
def test_odd_names(raw: str, masked: str) -> None:
    assert mask_name(raw) == masked


@pytest.mark.parametrize(("raw", "masked"), [
    ("上海市普陀区长寿路12弄5号502室", "上海市普陀区长寿路12弄5号"),
    ("上海市普陀区长寿路12弄5号502", "上海市普陀区长寿路12弄5号"),
    ("上海市普陀区长寿路123号", "上海市普陀区长寿路123号"),
    ("阳光小区12号楼3单元502室", "阳光小区12号楼"),
    ("阳光小区12号楼", "阳光小区12号楼"),
    ("武宁路88号阳光小区5幢1201室", "武宁路88号阳光小区5幢"),
    ("曹杨新村7栋2单元301", "曹杨新村7栋"),
    ("某某大厦B座1203室", "某某大厦B座"),
    ("金沙江路１２号３０１室", "金沙江路１２号"),
    ("某村3单元502室", "某村"),
    ("某村2-301", "某村2"),
    ("某村502", "某村"),
    ("上海市普陀区", "上海市普陀区"),
])
def test_address_cut_to_building_level(raw: str, masked: str) -> None:
    assert mask_address(raw) == masked


@given(st.text(alphabet="0123456789", min_size=11, max_size=24))
def test_masked_id_number_hides_the_middle(raw: str) -> None:
    out = mask_id_number(raw)
    assert out is not None and len(out) == len(raw)
    assert out[:6] == raw[:6] and out[-4:] == raw[-4:]
    assert set(out[6:-4]) == {"*"}


@given(st.text(alphabet="0123456789", min_size=8, max_size=16))
def test_masked_phone_hides_the_middle(raw: str) -> None:
    out = mask_phone(raw)
    assert out is not None and len(out) == len(raw)
    assert set(out[3:-4]) == {"*"} and out[:3] == raw[:3] and out[-4:] == raw[-4:]


@given(st.sampled_from(["id_number", "phone", "name"]), st.text(min_size=1, max_size=30))
def test_masks_never_return_long_input_unchanged(kind: str, raw: str) -> None:
    out = apply_mask(kind, raw)
    assert out is not None
    assert "*" in out or out == ""


@given(st.text(max_size=40))
def test_address_mask_only_cuts(raw: str) -> None:
    out = mask_address(raw)
    assert out is not None and raw.strip().startswith(out)


def test_unknown_mask_kind_fails_closed() -> None:
    assert apply_mask("nope", "secret") == "******"
