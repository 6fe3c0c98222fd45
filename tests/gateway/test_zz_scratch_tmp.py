import json
from tests.gateway.conftest import codes

def show(r):
    print(r.status_code, r.text[:1500])

def test_explore(api):
    t = api.token("developer")
    so = api.token("subdistrict_officer")
    for q in ["{ persons(first: 3) { totalCount edges { cursor node { id gender age jurisdictionCode house { id address jurisdictionCode } welfare { livingAlone } } } pageInfo { endCursor hasNextPage } } }",
              "{ committees(first: 50) { totalCount edges { node { id code name } } } }",
              "{ persons(first: 2, after: \"garbage\") { totalCount } }",
              "{ persons(first: 2, filter: {committee: \"12\"}) { totalCount } }",
              "{ node(id: \"garbage\") { id } }",
              "{ persons(first: 1001) { totalCount } }",
              "{ persons(first: \"x\") { totalCount } }",
              "{ shops(first: 2) { totalCount edges { node { id name creditCode appearance { shopFrontCompliant } inspections { date } violations { caseNumber } fireChecks { checkId } complaints { caseNumber } } } } }",
              "{ events(first: 2) { totalCount edges { node { id eventId registrations { registrationId person { id age } } } } } }",
              ]:
        for tok in (t, so):
            print("Q", q[:60]); show(api.post(q, tok))
    show(api.post("query($n: Int) { persons(first: $n) { totalCount } }", t, {"n": "abc"}))

def test_ops(api):
    t = api.token("developer")
    import orjson
    for body in [{"query": "fragment F on Person { id }"}, {"query": "query A { persons(first:1){totalCount} } query B { persons(first:1){totalCount} }"},
                 {"query": "query A { persons(first:1){totalCount} } query A { persons(first:1){totalCount} }", "operationName": "A"},
                 {"query": "{ persons(first:1){totalCount} }", "operationName": "A"},
                 {"query": "subscription { persons(first:1){totalCount} }"},
                 {"query": "mutation { persons(first:1){totalCount} }"},
                 ]:
        r = api.post("", t, raw=orjson.dumps(body)); print(r.status_code, r.text[:300])
