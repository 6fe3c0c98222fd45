from __future__ import annotations

from tests.helpers import codes


def test_developer_reads_persons(api) -> None:  # type: ignore[no-untyped-def]
    body = api.gql("{ persons(first: 5) { totalCount edges { node { id name idNumber house { address } } } } }",
                   api.token("developer"))
    assert "errors" not in body, body
    assert len(body["data"]["persons"]["edges"]) == 5
    assert codes(body) == []
