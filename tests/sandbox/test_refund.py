import pytest
import requests

from dashboard.sandbox import SandboxServer
from tests.sandbox.conftest import Api

SUCCESS = {"detail": "Transaction refund successful."}


def refund_url(idx: str) -> str:
    return f"/api/merchant-transaction/{idx}/refund/"


def newest(api: Api, type_name: str, state: str = "Completed") -> dict:
    records = api.page(1, page_size=300)["records"]
    return next(
        r for r in records if r["type"]["name"] == type_name and r["state"]["name"] == state
    )


def detail(api: Api, idx: str) -> dict:
    return api.get(f"/api/v2/merchant-transaction/{idx}/").json()


def test_full_wallet_refund(api: Api):
    record = newest(api, "Wallet payment")
    response = api.post(refund_url(record["idx"]))
    assert response.status_code == 200
    assert response.json() == SUCCESS
    after = detail(api, record["idx"])
    assert after["state"]["name"] == "Refunded"
    assert after["refunded"] is True
    assert after["can_refund"] is False
    again = api.post(refund_url(record["idx"]))
    assert again.status_code == 400
    assert again.json() == {"detail": "Transaction already refunded."}


def test_partial_refunds_until_nothing_is_left(api: Api):
    record = newest(api, "Wallet payment")
    amount = record["amount"]
    assert api.post(refund_url(record["idx"]), json={"amount": 500}).json() == SUCCESS
    after = detail(api, record["idx"])
    assert after["state"]["name"] == "Partially refunded"
    assert after["state"]["template"] == "is partially refund"
    assert after["refunded"] is True and after["can_refund"] is True

    too_much = api.post(refund_url(record["idx"]), json={"amount": amount})
    assert too_much.status_code == 400
    assert too_much.json() == {
        "amount": [f"Amount exceeds the refundable amount of {amount - 500} paisa."],
        "error_key": "validation_error",
    }
    assert api.post(refund_url(record["idx"]), data={"amount": str(amount - 600)}).ok
    assert detail(api, record["idx"])["state"]["name"] == "Partially refunded"
    assert api.post(refund_url(record["idx"])).json() == SUCCESS
    assert detail(api, record["idx"])["state"]["name"] == "Refunded"


@pytest.mark.parametrize("amount", [0, -5, "lots"])
def test_refund_amount_must_be_a_positive_integer(api: Api, amount):
    record = newest(api, "Wallet payment")
    response = api.post(refund_url(record["idx"]), json={"amount": amount})
    assert response.status_code == 400
    assert list(response.json()) == ["amount", "error_key"]
    assert detail(api, record["idx"])["state"]["name"] == "Completed"


def test_bank_refund_needs_the_khalti_mobile(api: Api):
    record = newest(api, "Ebanking payment")
    missing = api.post(refund_url(record["idx"]), json={})
    assert missing.status_code == 400
    assert missing.json() == {
        "mobile": ["This field is required."],
        "error_key": "validation_error",
    }
    bad = api.post(refund_url(record["idx"]), json={"mobile": "12345"})
    assert bad.json() == {
        "mobile": ["Enter a valid Khalti mobile number."],
        "error_key": "validation_error",
    }
    partial = api.post(refund_url(record["idx"]), json={"mobile": "9800000002", "amount": 1000})
    assert partial.json() == SUCCESS
    assert detail(api, record["idx"])["state"]["name"] == "Partially refunded"


@pytest.mark.parametrize("state", ["Failed", "Initiated", "Confirmed"])
def test_only_completed_payments_are_refunded(api: Api, srv: SandboxServer, state):
    record = newest(api, "Wallet payment")
    srv.set_state(record["idx"], state)
    response = api.post(refund_url(record["idx"]))
    assert response.status_code == 400
    assert response.json() == {
        "detail": f"Only a completed transaction can be refunded; this one is {state}."
    }
    assert srv.record(record["idx"])["state"]["name"] == state


def test_refund_of_unknown_transaction(api: Api):
    response = api.post(refund_url("2222222222222222222222"))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_refund_path_has_no_v2_and_needs_the_secret_key(api: Api, srv: SandboxServer):
    idx = newest(api, "Wallet payment")["idx"]
    assert api.post(f"/api/v2/merchant-transaction/{idx}/refund/").status_code == 404
    response = requests.post(srv.url + refund_url(idx), timeout=10)
    assert response.status_code == 401
    assert srv.record(idx)["state"]["name"] == "Completed"
