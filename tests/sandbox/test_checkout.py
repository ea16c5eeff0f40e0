import pytest
import requests

from dashboard.sandbox import SandboxServer
from tests.sandbox.conftest import Api

INITIATE = "/api/v2/payment/initiate/"
CONFIRM = "/api/v2/payment/confirm/"
VERIFY = "/api/v2/payment/verify/"
STATUS = "/api/v2/payment/status/"
NOT_AN_INTEGER = {"amount": ["A valid integer is required."], "error_key": "validation_error"}
STATUS_TABLE = {
    "Complete": {"state": "Complete", "status": True, "detail": "Transaction complete."},
    "Initiated": {"state": "Initiated", "status": True, "detail": "Transaciton initiated."},
    "Confirmed": {"state": "Confirmed", "status": True, "detail": "Transaciton not verified."},
    "Refunded": {"state": "Refunded", "status": False, "detail": "Transaciton refunded."},
    "Partially refunded": {
        "state": "Partially refunded",
        "status": False,
        "detail": "Transaction partially refunded.",
    },
    "Failed": {"state": "Failed", "status": False, "detail": "Transaction failed."},
}
ERROR_ROW = {"state": "Error", "status": False, "detail": "Transaction not found"}


def purchase(server: SandboxServer, **changes) -> dict:
    fields = {
        "public_key": server.public_key,
        "mobile": "9800000001",
        "transaction_pin": "1111",
        "amount": 25000,
        "product_identity": "book/id-120",
        "product_name": "Palpasa Cafe",
        "product_url": "https://sajilomart.com.np/products/palpasa-cafe",
        "merchant_order_note": "gift wrap",
    }
    fields.update(changes)
    return {key: value for key, value in fields.items() if value is not None}


def initiate(server: SandboxServer, **changes) -> str:
    # Checkout SDKs run in the browser: no Authorization header, only the public key.
    response = requests.post(server.url + INITIATE, data=purchase(server, **changes), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["token"]


def confirm_fields(server: SandboxServer, token: str, **changes) -> dict:
    fields = {
        "public_key": server.public_key,
        "token": token,
        "confirmation_code": "987654",
        "transaction_pin": "1111",
    }
    fields.update(changes)
    return {key: value for key, value in fields.items() if value is not None}


def status(api: Api, token: str, amount) -> dict:
    response = api.get(STATUS, params={"token": token, "amount": amount})
    assert response.status_code == 200
    return response.json()


def test_initiate_confirm_verify_status(api: Api, srv: SandboxServer):
    token = initiate(srv)
    head = api.page(1)["records"][0]
    assert srv.total == 301
    assert head["state"]["name"] == "Initiated"
    assert head["amount"] == 25000
    assert head["user"]["mobile"] == "9800000001"
    assert head["type"]["name"] == "Wallet payment"
    detail = api.get(f"/api/v2/merchant-transaction/{head['idx']}/").json()
    assert detail["meta"] == {
        "product_identity": "book/id-120",
        "product_name": "Palpasa Cafe",
        "product_url": "https://sajilomart.com.np/products/palpasa-cafe",
        "merchant_order_note": "gift wrap",
    }
    assert status(api, token, 25000) == STATUS_TABLE["Initiated"]

    early = api.post(VERIFY, data={"token": token, "amount": 25000})
    assert early.status_code == 400
    assert early.json() == {"detail": "Transaction not confirmed yet."}

    confirmed = requests.post(srv.url + CONFIRM, json=confirm_fields(srv, token), timeout=10)
    assert confirmed.status_code == 200
    assert confirmed.json() == {
        "token": token,
        "amount": 25000,
        "mobile": "98XXXXX001",
        "product_identity": "book/id-120",
        "product_name": "Palpasa Cafe",
    }
    assert status(api, token, 25000) == STATUS_TABLE["Confirmed"]
    assert api.get(f"/api/v2/merchant-transaction/{head['idx']}/").json()["can_complete"] is True

    wrong = api.post(VERIFY, data={"token": token, "amount": 2500})
    assert wrong.status_code == 400
    assert wrong.json() == {
        "amount": ["Amount does not match the transaction amount."],
        "error_key": "validation_error",
    }

    verified = api.post(VERIFY, data={"token": token, "amount": 25000})
    assert verified.status_code == 200
    record = verified.json()
    assert record["idx"] == head["idx"]
    assert record["state"]["name"] == "Completed"
    assert record["state"]["template"] == "is complete"
    assert record == api.page(1)["records"][0] == srv.record(head["idx"])
    assert status(api, token, 25000) == STATUS_TABLE["Complete"]
    assert status(api, head["idx"], 25000) == STATUS_TABLE["Complete"]

    again = api.post(VERIFY, json={"token": token, "amount": 25000})
    assert again.status_code == 400
    assert again.json() == {"detail": "Transaction already verified."}


def test_confirm_twice_is_refused(srv: SandboxServer):
    token = initiate(srv)
    url = srv.url + CONFIRM
    assert requests.post(url, data=confirm_fields(srv, token), timeout=10).status_code == 200
    response = requests.post(url, data=confirm_fields(srv, token), timeout=10)
    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"public_key": "test_public_key_" + "0" * 32}, {"public_key": ["Invalid public key."]}),
        ({"public_key": None}, {"public_key": ["This field is required."]}),
        (
            {"mobile": "9841234567"},
            {"mobile": ["Not a sandbox Khalti ID: use 9800000000 to 9800000005."]},
        ),
        ({"transaction_pin": "1234"}, {"transaction_pin": ["Invalid transaction pin."]}),
        (
            {"amount": 999},
            {"amount": ["Amount should be greater than Rs. 10, that is 1000 paisa."]},
        ),
        ({"amount": "ten"}, {"amount": ["A valid integer is required."]}),
        ({"product_identity": None}, {"product_identity": ["This field is required."]}),
        ({"product_name": ""}, {"product_name": ["This field may not be blank."]}),
    ],
)
def test_initiate_validation(srv: SandboxServer, changes, errors):
    response = requests.post(srv.url + INITIATE, data=purchase(srv, **changes), timeout=10)
    assert response.status_code == 400
    assert response.json() == {**errors, "error_key": "validation_error"}
    assert srv.total == 300


def test_every_test_payer_can_pay(srv: SandboxServer):
    for number in range(6):
        initiate(srv, mobile=f"980000000{number}", amount=1000)
    assert srv.total == 306


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"token": "2222222222222222222222"}, {"token": ["Invalid token."]}),
        ({"confirmation_code": "123456"}, {"confirmation_code": ["Invalid confirmation code."]}),
        ({"transaction_pin": "0000"}, {"transaction_pin": ["Invalid transaction pin."]}),
        ({"public_key": "nope"}, {"public_key": ["Invalid public key."]}),
    ],
)
def test_confirm_validation(srv: SandboxServer, changes, errors):
    fields = {**confirm_fields(srv, initiate(srv)), **changes}
    response = requests.post(srv.url + CONFIRM, data=fields, timeout=10)
    assert response.status_code == 400
    assert response.json() == {**errors, "error_key": "validation_error"}


def test_verify_unknown_token(shared_api: Api):
    response = shared_api.post(VERIFY, data={"token": "2222222222222222222222", "amount": 1000})
    assert response.status_code == 400
    assert response.json() == {"token": ["Invalid token."]}


@pytest.mark.parametrize("amount", [None, "", "ten", "10.5", True])
def test_verify_amount_must_be_an_integer(shared_api: Api, shared: SandboxServer, amount):
    token, _ = shared.demo_tokens["Confirmed"]
    body = {"token": token} if amount is None else {"token": token, "amount": amount}
    response = shared_api.post(VERIFY, json=body)
    assert response.status_code == 400
    assert response.json() == NOT_AN_INTEGER


def test_verify_reads_form_and_json(api: Api, srv: SandboxServer):
    token, amount = srv.demo_tokens["Confirmed"]
    response = api.post(VERIFY, json={"token": token, "amount": str(amount)})
    assert response.status_code == 200
    assert response.json()["amount"] == amount
    assert status(api, token, amount) == STATUS_TABLE["Complete"]


def test_verify_invalid_json(shared_api: Api):
    response = shared_api.post(
        VERIFY, data=b'{"token": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - ")
    assert set(response.json()) == {"detail"}


def test_verify_refuses_other_states(shared_api: Api, shared: SandboxServer):
    for state in ("Initiated", "Failed", "Refunded", "Complete"):
        token, amount = shared.demo_tokens[state]
        response = shared_api.post(VERIFY, data={"token": token, "amount": amount})
        assert response.status_code == 400
        assert set(response.json()) == {"detail"}
    assert status(shared_api, *shared.demo_tokens["Initiated"]) == STATUS_TABLE["Initiated"]


def test_verify_needs_the_secret_key(shared: SandboxServer):
    token, amount = shared.demo_tokens["Confirmed"]
    response = requests.post(
        shared.url + VERIFY, data={"token": token, "amount": amount}, timeout=10
    )
    assert response.status_code == 401
    assert response.json()["detail"] == "Authentication credentials were not provided."


def test_demo_tokens_cover_the_status_table(shared_api: Api, shared: SandboxServer):
    assert set(shared.demo_tokens) == set(STATUS_TABLE)
    for state, (token, amount) in shared.demo_tokens.items():
        assert isinstance(amount, int) and amount >= 1000
        assert status(shared_api, token, amount) == STATUS_TABLE[state]


def test_demo_tokens_exist_in_a_tiny_sandbox(make_server):
    server = make_server(records=8)
    api = Api(server)
    assert set(server.demo_tokens) == set(STATUS_TABLE)
    for state, (token, amount) in server.demo_tokens.items():
        assert status(api, token, amount) == STATUS_TABLE[state]


def test_status_by_idx(shared_api: Api):
    record = shared_api.page(1)["records"][3]
    expected = {"Completed": "Complete"}.get(record["state"]["name"], record["state"]["name"])
    assert status(shared_api, record["idx"], record["amount"])["state"] == expected


@pytest.mark.parametrize("wrong", ["token", "amount", "missing amount", "idx of a fee"])
def test_status_error_row(shared_api: Api, shared: SandboxServer, wrong):
    token, amount = shared.demo_tokens["Complete"]
    params = {"token": token, "amount": amount}
    if wrong == "token":
        params["token"] = "2222222222222222222222"
    elif wrong == "amount":
        params["amount"] = amount + 100
    elif wrong == "missing amount":
        del params["amount"]
    else:
        record = shared_api.page(1)["records"][0]
        fee = shared_api.get(f"/api/v2/merchant-transaction/{record['idx']}/").json()
        params = {"token": fee["child_transactions"][0]["idx"], "amount": record["fee_amount"]}
    response = shared_api.get(STATUS, params=params)
    assert response.status_code == 200
    assert response.json() == ERROR_ROW
