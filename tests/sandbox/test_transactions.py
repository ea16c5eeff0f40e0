import re
import time
from collections import Counter
from datetime import datetime, timedelta

import pytest
import requests

from dashboard.sandbox import SandboxServer
from tests.sandbox.conftest import NOW, TIMESTAMP, Api

LIST = "/api/v2/merchant-transaction/"
IDX = re.compile(r"[23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz]{22}")
TYPES = {"Wallet payment", "Ebanking payment", "Mobile banking", "Connect IPS", "SCT card"}
TEMPLATES = {
    "Completed": "is complete",
    "Confirmed": "is confirm",
    "Initiated": "is initiate",
    "Failed": "is fail",
    "Refunded": "is refund",
    "Partially refunded": "is partially refund",
}
NOT_PROVIDED = {"detail": "Authentication credentials were not provided.", "status_code": 401}
INVALID_TOKEN = {"detail": "Invalid token.", "status_code": 401}


def all_records(api: Api) -> list[dict]:
    first = api.page(1, page_size=500)
    records = first["records"]
    for number in range(2, first["total_pages"] + 1):
        records += api.page(number, page_size=500)["records"]
    return records


# -- authentication ----------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "Bearer abc", "Token abc", "Basic dXNlcg=="])
def test_missing_or_foreign_authorization_is_not_provided(shared: SandboxServer, header):
    headers = {"Authorization": header} if header is not None else {}
    response = requests.get(shared.url + LIST, headers=headers, timeout=10)
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED
    assert response.headers["WWW-Authenticate"] == "Key"


@pytest.mark.parametrize(
    "header",
    [
        "Key test_secret_key_00000000000000000000000000000000",
        "Key ",
        "Key a b",
    ],
)
def test_wrong_key_is_an_invalid_token(shared: SandboxServer, header):
    response = requests.get(shared.url + LIST, headers={"Authorization": header}, timeout=10)
    assert response.status_code == 401
    assert response.json() == INVALID_TOKEN


def test_public_key_does_not_open_secret_endpoints(shared: SandboxServer):
    headers = {"Authorization": f"Key {shared.public_key}"}
    response = requests.get(shared.url + LIST, headers=headers, timeout=10)
    assert response.json() == INVALID_TOKEN


def test_lowercase_key_prefix_is_accepted(shared: SandboxServer):
    headers = {"Authorization": f"key {shared.secret_key}"}
    assert requests.get(shared.url + LIST, headers=headers, timeout=10).status_code == 200


def test_keys_derive_from_the_seed_and_can_be_given():
    first = SandboxServer(records=0, seed=7, now=NOW)
    again = SandboxServer(records=0, seed=7, now=NOW)
    other = SandboxServer(records=0, seed=8, now=NOW)
    given = SandboxServer(
        records=0,
        secret_key="live_secret_key_" + "ab" * 16,
        public_key="live_public_key_" + "cd" * 16,
        now=NOW,
    )
    try:
        assert re.fullmatch(r"test_secret_key_[0-9a-f]{32}", first.secret_key)
        assert re.fullmatch(r"test_public_key_[0-9a-f]{32}", first.public_key)
        assert (first.secret_key, first.public_key) == (again.secret_key, again.public_key)
        assert first.secret_key != other.secret_key
        assert given.secret_key == "live_secret_key_" + "ab" * 16
    finally:
        for server in (first, again, other, given):
            server.stop()
    with pytest.raises(ValueError, match="secret key"):
        SandboxServer(records=0, secret_key="test_public_key_" + "ab" * 16)


# -- pagination --------------------------------------------------------------------------


def test_first_page(shared_api: Api, shared: SandboxServer):
    page = shared_api.page(1)
    assert list(page) == [
        "total_pages",
        "total_records",
        "next",
        "previous",
        "record_range",
        "current_page",
        "records",
    ]
    assert page["total_records"] == 5000
    assert page["total_pages"] == 100
    assert page["current_page"] == 1
    assert page["record_range"] == [1, 50]
    assert len(page["records"]) == 50
    assert page["previous"] is None
    assert page["next"] == f"{shared.url}{LIST}?page=2"


def test_middle_page_links(shared_api: Api, shared: SandboxServer):
    page = shared_api.page(37)
    assert page["record_range"] == [1801, 1850]
    assert page["next"] == f"{shared.url}{LIST}?page=38"
    assert page["previous"] == f"{shared.url}{LIST}?page=36"
    # Like DRF, the link back to page 1 carries no page parameter.
    assert shared_api.page(2)["previous"] == f"{shared.url}{LIST}"


def test_last_page_is_partial(shared_api: Api, shared: SandboxServer):
    page = shared_api.page(17, page_size=300)
    assert page["total_pages"] == 17
    assert page["record_range"] == [4801, 5000]
    assert len(page["records"]) == 200
    assert page["next"] is None
    assert page["previous"] == f"{shared.url}{LIST}?page=16&page_size=300"
    assert shared_api.page("last", page_size=300)["records"] == page["records"]


def test_links_follow_the_host_header(shared_api: Api):
    response = shared_api.get(LIST, params={"page": 3}, headers={"Host": "khalti.test:8000"})
    body = response.json()
    assert body["next"] == "http://khalti.test:8000/api/v2/merchant-transaction/?page=4"
    assert body["previous"] == "http://khalti.test:8000/api/v2/merchant-transaction/?page=2"


def test_following_next_walks_every_record_once(shared_api: Api, shared: SandboxServer):
    url, seen = f"{shared.url}{LIST}?page_size=500", []
    while url:
        body = shared_api.session.get(url, timeout=10).json()
        seen += [record["idx"] for record in body["records"]]
        url = body["next"]
    assert len(seen) == len(set(seen)) == 5000


@pytest.mark.parametrize("page", ["101", "0", "-1", "abc", "1.5", "2.0", ""])
def test_invalid_page(shared_api: Api, page):
    response = shared_api.get(LIST, params={"page": page})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_page_size_is_capped_and_defaults_when_invalid(shared_api: Api):
    assert len(shared_api.page(1, page_size=1000)["records"]) == 500
    assert shared_api.page(1, page_size=1000)["total_pages"] == 10
    assert len(shared_api.page(1, page_size="x")["records"]) == 50
    assert len(shared_api.page(1, page_size=0)["records"]) == 50
    assert len(shared_api.page(1, page_size=7)["records"]) == 7


def test_constructor_page_size(make_server):
    api = Api(make_server(records=30, page_size=20))
    assert api.page(1)["total_pages"] == 2
    assert api.page(2)["record_range"] == [21, 30]


def test_empty_sandbox_has_one_empty_page(make_server):
    api = Api(make_server(records=0))
    page = api.page(1)
    assert page["total_records"] == 0
    assert page["total_pages"] == 1
    assert page["records"] == []
    assert page["record_range"] == [0, 0]
    assert page["next"] is None
    assert api.get(LIST, params={"page": 2}).status_code == 404


def test_fail_pages_answer_503(api: Api, srv: SandboxServer):
    srv.fail_pages.add(2)
    response = api.get(LIST, params={"page": 2})
    assert response.status_code == 503
    assert response.json() == {"detail": "Service unavailable."}
    assert api.get(LIST, params={"page": 1}).status_code == 200
    srv.fail_pages.clear()
    assert api.get(LIST, params={"page": 2}).status_code == 200


# -- records -----------------------------------------------------------------------------


def test_newest_first_with_nepal_timestamps(shared_api: Api):
    records = shared_api.page(1, page_size=500)["records"] + shared_api.page(2)["records"]
    stamps = [record["created_on"] for record in records]
    assert all(re.fullmatch(TIMESTAMP, stamp) for stamp in stamps)
    moments = [datetime.fromisoformat(stamp) for stamp in stamps[:500]]
    assert moments == sorted(moments, reverse=True)
    assert moments[0] <= NOW
    assert moments[0].utcoffset() == timedelta(hours=5, minutes=45)


def test_record_shape(shared_api: Api):
    states: dict[str, str] = {}
    merchants = set()
    for record in shared_api.page(1, page_size=500)["records"]:
        assert set(record) == {
            "idx",
            "type",
            "state",
            "amount",
            "fee_amount",
            "refunded",
            "created_on",
            "ebanker",
            "user",
            "merchant",
        }
        assert IDX.fullmatch(record["idx"])
        assert record["type"]["name"] in TYPES and IDX.fullmatch(record["type"]["idx"])
        state = record["state"]
        assert state["template"] == TEMPLATES[state["name"]]
        assert states.setdefault(state["name"], state["idx"]) == state["idx"]
        assert record["refunded"] == (state["name"] in ("Refunded", "Partially refunded"))
        assert type(record["amount"]) is int and record["amount"] >= 1000
        assert type(record["fee_amount"]) is int
        assert 0.014 <= record["fee_amount"] / record["amount"] <= 0.031
        assert (record["ebanker"] is None) == (record["type"]["name"] == "Wallet payment")
        assert re.fullmatch(r"9[78]\d{8}", record["user"]["mobile"])
        assert IDX.fullmatch(record["user"]["idx"]) and record["user"]["name"]
        merchants.add(tuple(sorted(record["merchant"].items())))
    assert len(merchants) == 1
    assert len(set(states.values())) == len(states)


def test_demo_traffic_looks_like_a_nepali_shop(shared_api: Api):
    records = all_records(shared_api)
    moments = [datetime.fromisoformat(record["created_on"]) for record in records]
    assert NOW - min(moments) > timedelta(days=380)

    types = Counter(record["type"]["name"] for record in records)
    assert 0.58 < types["Wallet payment"] / len(records) < 0.72
    assert set(types) == TYPES
    ebankers = {record["ebanker"] for record in records} - {None}
    assert {"Nabil Bank", "NIC Asia Bank", "Global IME Bank"} <= ebankers

    states = Counter(record["state"]["name"] for record in records)
    assert states["Completed"] / len(records) > 0.85
    assert states["Failed"] and states["Refunded"] and states["Partially refunded"]
    assert states["Initiated"] and states["Confirmed"]

    hours = Counter(moment.hour for moment in moments)
    assert hours[11] > 5 * hours[3] and hours[19] > 5 * hours[3]
    weekdays = Counter(moment.weekday() for moment in moments)
    assert weekdays[5] < 0.85 * min(weekdays[day] for day in (0, 1, 2, 3, 6))
    per_day: Counter = Counter(moment.date() for moment in moments)
    festival = [n for day, n in per_day.items() if day.month == 10 and 5 <= day.day <= 25]
    summer = [n for day, n in per_day.items() if day.month in (6, 7)]
    assert sum(festival) / len(festival) > 1.3 * sum(summer) / len(summer)
    opening = min(moments).date() + timedelta(days=90)
    first_quarter = [n for day, n in per_day.items() if day < opening]
    assert sum(summer) / len(summer) > sum(first_quarter) / len(first_quarter)

    amounts = [record["amount"] for record in records]
    assert sum(amount % 50000 == 0 for amount in amounts) / len(amounts) > 0.15
    assert max(amounts) <= 10_000_000
    mobiles = Counter(record["user"]["mobile"] for record in records)
    assert mobiles.most_common(1)[0][1] >= 10  # regulars come back


def test_detail(shared_api: Api):
    summary = shared_api.page(1)["records"][5]
    response = shared_api.get(f"{LIST}{summary['idx']}/")
    assert response.status_code == 200
    detail = response.json()
    assert {key: detail[key] for key in summary} == summary
    assert detail["can_complete"] is (summary["state"]["name"] == "Confirmed")
    assert detail["can_refund"] is (summary["state"]["name"] in ("Completed", "Partially refunded"))
    (fee,) = detail["child_transactions"]
    assert fee["type"]["name"] == "Fee"
    assert fee["amount"] == summary["fee_amount"]
    assert IDX.fullmatch(fee["idx"]) and fee["idx"] != summary["idx"]
    assert fee["state"]["name"] in TEMPLATES
    assert shared_api.get(f"{LIST}{fee['idx']}/").status_code == 404


def test_detail_meta_is_product_or_null(shared_api: Api):
    metas = [
        shared_api.get(f"{LIST}{record['idx']}/").json()["meta"]
        for record in shared_api.page(1)["records"]
    ]
    products = [meta for meta in metas if meta is not None]
    assert products and len(products) < len(metas)
    for meta in products:
        assert set(meta) == {"product_identity", "product_name", "product_url"}


@pytest.mark.parametrize("idx", ["nope", "x" * 22, "2222222222222222222222"])
def test_unknown_detail_is_not_found(shared_api: Api, idx):
    response = shared_api.get(f"{LIST}{idx}/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_same_seed_same_data():
    with (
        SandboxServer(records=800, seed=9, now=NOW) as first,
        SandboxServer(records=800, seed=9, now=NOW) as second,
        SandboxServer(records=800, seed=10, now=NOW) as other,
        SandboxServer(records=800, seed=9, now=NOW + timedelta(days=3)) as later,
    ):
        pages = [Api(server).page(4, page_size=100) for server in (first, second, other, later)]
        assert pages[0]["records"] == pages[1]["records"]
        assert first.demo_tokens == second.demo_tokens
        assert first.demo_pidx == second.demo_pidx
        assert {r["idx"] for r in pages[0]["records"]}.isdisjoint(
            r["idx"] for r in pages[2]["records"]
        )
        # The idx of record i depends on the seed alone, not on the clock.
        assert [r["idx"] for r in pages[0]["records"]] == [r["idx"] for r in pages[3]["records"]]
        assert pages[0]["records"][0]["created_on"] != pages[3]["records"][0]["created_on"]


# -- hooks -------------------------------------------------------------------------------


def test_add_payments_shift_the_head(api: Api, srv: SandboxServer):
    before = api.page(1)["records"]
    added = srv.add_payments(3)
    assert srv.total == 303
    page = api.page(1)
    assert page["total_records"] == 303
    assert [record["idx"] for record in page["records"][:3]] == added
    assert page["records"][3:] == before[:47]
    assert all(record["state"]["name"] == "Completed" for record in page["records"][:3])
    stamps = [datetime.fromisoformat(record["created_on"]) for record in page["records"][:4]]
    assert stamps == sorted(stamps, reverse=True) and stamps[2] > stamps[3]


def test_add_payments_with_state_and_amount(api: Api, srv: SandboxServer):
    (idx,) = srv.add_payments(1, state="Failed", amount=123456)
    record = srv.record(idx)
    assert record == api.page(1)["records"][0]
    assert record["state"]["name"] == "Failed" and record["amount"] == 123456
    with pytest.raises(ValueError):
        srv.add_payments(1, state="Lost")


def test_set_state_and_record(api: Api, srv: SandboxServer):
    idx = api.page(2)["records"][4]["idx"]
    completed_state = next(
        r["state"] for r in api.page(1)["records"] if r["state"]["name"] == "Completed"
    )
    srv.set_state(idx, "Completed")
    assert srv.record(idx)["state"] == completed_state
    srv.set_state(idx, "Refunded")
    record = srv.record(idx)
    assert record["state"]["name"] == "Refunded" and record["state"]["template"] == "is refund"
    assert record["refunded"] is True
    assert api.page(2)["records"][4] == record
    with pytest.raises(KeyError):
        srv.record("2222222222222222222222")
    with pytest.raises(ValueError):
        srv.set_state(idx, "Lost")


def test_request_log(api: Api, srv: SandboxServer):
    api.get(LIST, params={"page": 2})
    api.post("/api/v2/payment/verify/", data={"token": "x", "amount": 1000})
    assert srv.request_log[-2:] == [
        ("GET", "/api/v2/merchant-transaction/?page=2"),
        ("POST", "/api/v2/payment/verify/"),
    ]


# -- routing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/api/v2/merchant-transaction",
        "/api/v2/merchant-transactions/",
        "/api/v2/merchant-transaction/abc/refund/",
        "/api/v3/payment/verify/",
    ],
)
def test_unknown_paths_are_not_found(shared_api: Api, path):
    for response in (shared_api.get(path), shared_api.post(path)):
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found."}
        assert response.headers["Content-Type"] == "application/json"


def test_wrong_method_is_not_allowed(shared_api: Api):
    response = shared_api.post(LIST)
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "POST" not allowed.'}
    assert shared_api.get("/api/v2/payment/verify/").status_code == 405


def test_stopped_sandbox_refuses_connections(make_server):
    server = make_server(records=10)
    api = Api(server)
    assert api.page(1)["total_records"] == 10
    server.stop()
    with pytest.raises(requests.ConnectionError):
        api.page(1)


# -- scale -------------------------------------------------------------------------------


def test_a_million_records_start_and_page_fast():
    started = time.perf_counter()
    server = SandboxServer(records=1_000_000, now=NOW).start()
    startup = time.perf_counter() - started
    try:
        api = Api(server)
        api.page(1)  # warm the connection
        pages = {}
        for number in (1, 10_000, 20_000):
            started = time.perf_counter()
            pages[number] = api.page(number)
            assert time.perf_counter() - started < 0.5
        assert startup < 5
        assert pages[20_000]["next"] is None
        assert pages[20_000]["record_range"] == [999_951, 1_000_000]
        assert pages[10_000]["record_range"] == [499_951, 500_000]
        oldest = datetime.fromisoformat(pages[20_000]["records"][-1]["created_on"])
        newest = datetime.fromisoformat(pages[1]["records"][0]["created_on"])
        assert timedelta(days=380) < newest - oldest < timedelta(days=400)
        middle = pages[10_000]["records"][0]["idx"]
        assert api.get(f"{LIST}{middle}/").json()["idx"] == middle
    finally:
        server.stop()
