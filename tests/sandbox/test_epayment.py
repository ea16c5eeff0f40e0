import re
from datetime import datetime, timedelta

import pytest
import requests

from dashboard.sandbox import SandboxServer
from tests.sandbox.conftest import NOW, TIMESTAMP, Api

INITIATE = "/api/v2/epayment/initiate/"
LOOKUP = "/api/v2/epayment/lookup/"
LOOKUP_KEYS = {"pidx", "total_amount", "status", "transaction_id", "fee", "refunded"}
EXPECTED = {  # status: (HTTP status, refunded, has a transaction id)
    "Completed": (200, False, True),
    "Pending": (200, False, False),
    "Initiated": (200, False, False),
    "Refunded": (200, True, True),
    "Partially refunded": (200, True, True),
    "Expired": (400, False, False),
    "User canceled": (400, False, False),
}


def order(**changes) -> dict:
    body = {
        "return_url": "https://sajilomart.com.np/khalti/return/",
        "website_url": "https://sajilomart.com.np/",
        "amount": 130000,
        "purchase_order_id": "SM-2082-0042",
        "purchase_order_name": "Pashmina Shawl",
        "customer_info": {
            "name": "Sita Sharma",
            "email": "sita@example.com",
            "phone": "9800000001",
        },
        "amount_breakdown": [
            {"label": "Mark Price", "amount": 115044},
            {"label": "VAT", "amount": 14956},
        ],
        "merchant_extra": "kept",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def lookup(api: Api, pidx: str) -> requests.Response:
    return api.post(LOOKUP, json={"pidx": pidx})


def test_initiate_then_lookup(api: Api, srv: SandboxServer):
    response = api.post(INITIATE, json=order())
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"pidx", "payment_url", "expires_at", "expires_in"}
    assert len(body["pidx"]) == 22
    assert body["payment_url"] == f"https://test-pay.khalti.com/?pidx={body['pidx']}"
    assert body["expires_in"] == 1800
    assert re.fullmatch(TIMESTAMP, body["expires_at"])
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=29) < expires - NOW < timedelta(minutes=31)
    assert srv.total == 300  # an unpaid request is not a transaction yet

    looked = lookup(api, body["pidx"])
    assert looked.status_code == 200
    assert looked.json() == {
        "pidx": body["pidx"],
        "total_amount": 130000,
        "status": "Initiated",
        "transaction_id": None,
        "fee": 0,
        "refunded": False,
    }


def test_link_expires_after_an_hour(api: Api, srv: SandboxServer):
    pidx = api.post(INITIATE, json=order()).json()["pidx"]
    srv.advance(timedelta(minutes=59))
    assert lookup(api, pidx).json()["status"] == "Initiated"
    srv.advance(timedelta(minutes=2))
    response = lookup(api, pidx)
    assert response.status_code == 400
    assert response.json()["status"] == "Expired"
    assert set(response.json()) == LOOKUP_KEYS


def test_form_encoded_initiate_and_string_amounts(api: Api):
    body = order(amount="5000", amount_breakdown=None, customer_info=None)
    assert api.post(INITIATE, data=body).status_code == 200
    breakdown = [{"label": "Price", "amount": "4000"}, {"label": "Delivery", "amount": 1000}]
    assert api.post(INITIATE, json=order(amount="5000", amount_breakdown=breakdown)).ok


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"amount": 999},
            {"amount": ["Amount should be greater than Rs. 10, that is 1000 paisa."]},
        ),
        ({"amount": "lots"}, {"amount": ["A valid integer is required."]}),
        ({"return_url": None}, {"return_url": ["This field is required."]}),
        ({"website_url": "sajilomart"}, {"website_url": ["Enter a valid URL."]}),
        ({"purchase_order_id": ""}, {"purchase_order_id": ["This field may not be blank."]}),
        ({"purchase_order_name": None}, {"purchase_order_name": ["This field is required."]}),
        (
            {"amount": 140000},
            {"amount_breakdown": ["Sum of amount breakdown must be equal to amount."]},
        ),
        (
            {"amount_breakdown": [{"label": "Price"}]},
            {"amount_breakdown": ["Each item needs a label and an integer amount in paisa."]},
        ),
        ({"customer_info": "Sita"}, {"customer_info": ["Expected a dictionary of items."]}),
    ],
)
def test_initiate_validation(shared_api: Api, changes, errors):
    response = shared_api.post(INITIATE, json=order(**changes))
    assert response.status_code == 400
    assert response.json() == {**errors, "error_key": "validation_error"}


def test_initiate_reports_every_bad_field(shared_api: Api):
    response = shared_api.post(INITIATE, json={})
    assert response.status_code == 400
    assert set(response.json()) == {
        "return_url",
        "website_url",
        "amount",
        "purchase_order_id",
        "purchase_order_name",
        "error_key",
    }


def test_lookup_table(shared_api: Api, shared: SandboxServer):
    assert set(shared.demo_pidx) == set(EXPECTED)
    for status, pidx in shared.demo_pidx.items():
        code, refunded, has_transaction = EXPECTED[status]
        response = lookup(shared_api, pidx)
        assert response.status_code == code, status
        body = response.json()
        assert set(body) == LOOKUP_KEYS
        assert body["pidx"] == pidx and body["status"] == status
        assert body["refunded"] is refunded
        assert type(body["total_amount"]) is int and body["total_amount"] >= 1000
        assert (body["transaction_id"] is not None) is has_transaction
        if has_transaction:
            record = shared.record(body["transaction_id"])
            assert record["amount"] == body["total_amount"]
            assert record["fee_amount"] == body["fee"]


def test_refunding_the_transaction_shows_in_the_lookup(api: Api, srv: SandboxServer):
    pidx = srv.demo_pidx["Completed"]
    transaction_id = lookup(api, pidx).json()["transaction_id"]
    # The mobile is needed if the demo payment came from a bank, and ignored for a wallet.
    refund = {"mobile": "9800000002"}
    assert api.post(f"/api/merchant-transaction/{transaction_id}/refund/", json=refund).ok
    body = lookup(api, pidx).json()
    assert body["status"] == srv.record(transaction_id)["state"]["name"] == "Refunded"
    assert body["refunded"] is True


def test_set_state_pays_an_initiated_request(api: Api, srv: SandboxServer):
    pidx = api.post(INITIATE, json=order()).json()["pidx"]
    srv.set_state(pidx, "Completed")
    body = lookup(api, pidx).json()
    assert body["status"] == "Completed"
    head = api.page(1)["records"][0]
    assert body["transaction_id"] == head["idx"]
    assert head["amount"] == 130000 and head["state"]["name"] == "Completed"
    srv.set_state(pidx, "User canceled")
    response = lookup(api, pidx)
    assert response.status_code == 400
    assert response.json()["status"] == "User canceled"


def test_unknown_pidx(shared_api: Api):
    response = lookup(shared_api, "2222222222222222222222")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "error_key": "validation_error"}


def test_lookup_needs_a_pidx(shared_api: Api):
    response = shared_api.post(LOOKUP, json={})
    assert response.status_code == 400
    assert response.json() == {"pidx": ["This field is required."], "error_key": "validation_error"}


def test_epayment_needs_the_secret_key(shared: SandboxServer):
    for path, body in ((INITIATE, order()), (LOOKUP, {"pidx": shared.demo_pidx["Completed"]})):
        response = requests.post(
            shared.url + path, json=body, headers={"Authorization": "key nope"}, timeout=10
        )
        assert response.status_code == 401
        assert response.json() == {"detail": "Invalid token.", "status_code": 401}


def test_invalid_json_and_unsupported_media(shared_api: Api):
    response = shared_api.post(
        LOOKUP, data=b"{pidx}", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - ")
    listed = shared_api.post(LOOKUP, json=["pidx"])
    assert listed.status_code == 400
    assert listed.json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }
    text = shared_api.post(LOOKUP, data=b"pidx", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
