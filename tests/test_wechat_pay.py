"""WeChat Pay merchant transfer (商家转账) against a local fake of api.mch.weixin.qq.com.

The fake holds its own key pair (the "WeChat Pay public key" the client trusts), checks the merchant signature
of every request with the merchant's public key and answers 401 SIGN_ERROR when it does not match, signs its
answers, and keeps bills by out_bill_no: a repeat returns the same bill and never pays twice. Keys are made
here, none are committed.
"""

import base64
import json
import re
import secrets
import time

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from werkzeug import Request, Response

from backend.clients import wechat_pay
from backend.clients.wechat_pay import (
    FAIL,
    SUCCESS,
    WAIT_USER_CONFIRM,
    TransferNotFound,
    TransferResult,
    WeChatPayClient,
    WeChatPayError,
    WeChatPaySignatureError,
    WeChatPayUnavailable,
    client_from_config,
    decrypt_resource,
    sign_request,
    verify_signature,
)

MCHID, APPID = "1900000001", "wx-test-appid"
MERCHANT_SERIAL = "3775B6A45ACD588826D15E583A95F5DD0C6D0CAA"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000000012024110100000000000001"
APIV3_KEY = "0123456789abcdefghijABCDEFGHIJkl"  # 32 characters
SCENE_ID = "1000"  # 现金营销
REPORT_INFOS = {"活动名称": "随手拍有奖举报", "奖励说明": "举报属实奖励"}
TRANSFER_PATH = "/v3/fund-app/mch-transfer/transfer-bills"
AUTH_PATTERN = re.compile(
    r'^WECHATPAY2-SHA256-RSA2048 mchid="(?P<mchid>[^"]+)",nonce_str="(?P<nonce_str>[^"]+)",'
    r'signature="(?P<signature>[^"]+)",timestamp="(?P<timestamp>\d+)",serial_no="(?P<serial_no>[^"]+)"$'
)


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


@pytest.fixture(scope="module")
def merchant_key() -> rsa.RSAPrivateKey:
    return _new_key()


@pytest.fixture(scope="module")
def platform_key() -> rsa.RSAPrivateKey:
    return _new_key()


class FakeWeChatPay:
    """Just enough of WeChat Pay's merchant transfer for the client: create, query, callbacks."""

    def __init__(self, httpserver, merchant_key, platform_key):
        self.merchant_public_key = merchant_key.public_key()
        self.platform_key = platform_key
        self.bills: dict[str, dict] = {}
        self.payments = 0  # bills created, i.e. funds moved towards a user
        self.requests: list[dict] = []
        self.forced: list[tuple[int, dict, bool]] = []  # answers to give instead of the real one
        self.delay_after_create = 0.0  # seconds to sleep after storing a new bill (a lost answer)
        self.tamper_answers = False
        self.sign_as: tuple[str, rsa.RSAPrivateKey] | None = None  # (serial, key) an impostor would use
        self.answer_timestamp_offset = 0
        httpserver.expect_request(re.compile(r"^/v3/fund-app/mch-transfer/transfer-bills.*")).respond_with_handler(
            self.handle
        )

    # wire ----------------------------------------------------------------------------------------------------

    def signed(self, status: int, payload: dict, sign: bool = True) -> Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        response = Response(body, status=status, content_type="application/json; charset=utf-8")
        if not sign:
            return response
        serial, key = self.sign_as or (PUBLIC_KEY_ID, self.platform_key)
        timestamp, nonce = str(int(time.time()) + self.answer_timestamp_offset), secrets.token_hex(16)
        response.headers["Wechatpay-Timestamp"] = timestamp
        response.headers["Wechatpay-Nonce"] = nonce
        response.headers["Wechatpay-Serial"] = serial
        response.headers["Wechatpay-Signature-Type"] = "WECHATPAY2-SHA256-RSA2048"
        response.headers["Wechatpay-Signature"] = _sign(key, f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
        if self.tamper_answers:
            response.set_data(body.replace(b"WAIT_USER_CONFIRM", b"SUCCESS"))
        return response

    def merchant_signature_ok(self, request: Request) -> bool:
        match = AUTH_PATTERN.match(request.headers.get("Authorization", ""))
        if not match or match["mchid"] != MCHID or match["serial_no"] != MERCHANT_SERIAL:
            return False
        if abs(time.time() - int(match["timestamp"])) > 300:
            return False
        path = request.path + (f"?{request.query_string.decode()}" if request.query_string else "")
        message = f"{request.method}\n{path}\n{match['timestamp']}\n{match['nonce_str']}\n".encode()
        message += request.get_data() + b"\n"
        try:
            self.merchant_public_key.verify(
                base64.b64decode(match["signature"]), message, padding.PKCS1v15(), hashes.SHA256()
            )
        except Exception:
            return False
        return True

    def handle(self, request: Request) -> Response:
        self.requests.append({"method": request.method, "path": request.path, "headers": dict(request.headers)})
        if not self.merchant_signature_ok(request):
            # WeChat Pay refuses a wrongly signed request with 401 and does not sign that answer.
            return self.signed(401, {"code": "SIGN_ERROR", "message": "签名错误"}, sign=False)
        if self.forced:
            status, payload, sign = self.forced.pop(0)
            return self.signed(status, payload, sign)
        if request.method == "POST" and request.path == TRANSFER_PATH:
            return self.create(json.loads(request.get_data()))
        prefix = TRANSFER_PATH + "/out-bill-no/"
        if request.method == "GET" and request.path.startswith(prefix):
            return self.query(request.path[len(prefix) :])
        return self.signed(404, {"code": "NOT_FOUND", "message": "接口不存在"})

    # behaviour -----------------------------------------------------------------------------------------------

    REQUIRED = ("appid", "out_bill_no", "transfer_scene_id", "openid", "transfer_amount", "transfer_remark")
    PARAMS = (*REQUIRED, "notify_url", "user_recv_perception", "transfer_scene_report_infos")

    def create(self, body: dict) -> Response:
        missing = [name for name in self.REQUIRED if name not in body]
        if missing or not isinstance(body.get("transfer_amount"), int) or not body.get("transfer_scene_report_infos"):
            return self.signed(400, {"code": "PARAM_ERROR", "message": f"参数错误 {missing}"})
        params = {name: body.get(name) for name in self.PARAMS}
        existing = self.bills.get(body["out_bill_no"])
        if existing:
            if existing["params"] != params:
                return self.signed(
                    400, {"code": "INVALID_REQUEST", "message": "单号已存在但信息不一致,请查单后比较确认"}
                )
            return self.signed(200, self.create_answer(existing))
        bill = {
            "params": params,
            "out_bill_no": body["out_bill_no"],
            "transfer_bill_no": f"1330000071100999991182020050700{len(self.bills) + 1:08d}",
            "state": WAIT_USER_CONFIRM,
            "package_info": base64.b64encode(secrets.token_bytes(48)).decode(),
            "create_time": "2026-11-22T10:30:00+08:00",
            "update_time": "2026-11-22T10:30:00+08:00",
        }
        self.bills[body["out_bill_no"]] = bill
        self.payments += 1
        if self.delay_after_create:
            time.sleep(self.delay_after_create)
        return self.signed(200, self.create_answer(bill))

    @staticmethod
    def create_answer(bill: dict) -> dict:
        answer = {key: bill[key] for key in ("out_bill_no", "transfer_bill_no", "create_time", "state")}
        if bill["state"] == WAIT_USER_CONFIRM:
            answer["package_info"] = bill["package_info"]
        if bill.get("fail_reason"):
            answer["fail_reason"] = bill["fail_reason"]
        return answer

    def view(self, bill: dict) -> dict:
        params = bill["params"]
        view = {
            "mch_id": MCHID,
            "out_bill_no": bill["out_bill_no"],
            "transfer_bill_no": bill["transfer_bill_no"],
            "appid": params["appid"],
            "state": bill["state"],
            "transfer_amount": params["transfer_amount"],
            "transfer_remark": params["transfer_remark"],
            "openid": params["openid"],
            "create_time": bill["create_time"],
            "update_time": bill["update_time"],
        }
        if bill.get("fail_reason"):
            view["fail_reason"] = bill["fail_reason"]
        return view

    def query(self, out_bill_no: str) -> Response:
        bill = self.bills.get(out_bill_no)
        if bill is None:
            return self.signed(404, {"code": "NOT_FOUND", "message": "记录不存在"})
        return self.signed(200, self.view(bill))

    def user_confirms(self, out_bill_no: str) -> None:
        self.bills[out_bill_no].update(state=SUCCESS, update_time="2026-11-22T10:31:00+08:00")

    def expires(self, out_bill_no: str) -> None:
        self.bills[out_bill_no].update(state=FAIL, fail_reason="OVERDUE_CLOSE")

    def force(self, status: int, code: str, message: str = "", sign: bool = True) -> None:
        self.forced.append((status, {"code": code, "message": message}, sign))

    def callback(self, out_bill_no: str, timestamp: int | None = None, apiv3_key: str = APIV3_KEY):
        """The MCHTRANSFER.BILL.FINISHED notice WeChat would POST to notify_url: (headers, raw body)."""
        bill = self.bills[out_bill_no]
        plain = {"mchid": MCHID, **{k: v for k, v in self.view(bill).items() if k not in ("mch_id", "appid")}}
        nonce = secrets.token_hex(6)
        ciphertext = AESGCM(apiv3_key.encode()).encrypt(
            nonce.encode(), json.dumps(plain, ensure_ascii=False).encode(), b"mch_payment"
        )
        envelope = {
            "id": "EV-2018022511223320873",
            "create_time": "2026-11-22T10:31:01+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "MCHTRANSFER.BILL.FINISHED",
            "summary": "商家转账单据终态通知",
            "resource": {
                "original_type": "mch_payment",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": base64.b64encode(ciphertext).decode(),
                "associated_data": "mch_payment",
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        signed_at, sign_nonce = str(timestamp or int(time.time())), secrets.token_hex(16)
        headers = {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": signed_at,
            "Wechatpay-Nonce": sign_nonce,
            "Wechatpay-Serial": PUBLIC_KEY_ID,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            "Wechatpay-Signature": _sign(self.platform_key, f"{signed_at}\n{sign_nonce}\n".encode() + body + b"\n"),
        }
        return headers, body


@pytest.fixture
def fake(httpserver, merchant_key, platform_key) -> FakeWeChatPay:
    return FakeWeChatPay(httpserver, merchant_key, platform_key)


def _client(httpserver, merchant_key, platform_key, **overrides) -> WeChatPayClient:
    options = {
        "base_url": httpserver.url_for("/").rstrip("/"),
        "mchid": MCHID,
        "appid": APPID,
        "serial_no": MERCHANT_SERIAL,
        "private_key_pem": _private_pem(merchant_key),
        "platform_public_keys": {PUBLIC_KEY_ID: _public_pem(platform_key)},
        "apiv3_key": APIV3_KEY,
        "timeout": 2,
        "transfer_scene_id": SCENE_ID,
    }
    options.update(overrides)
    return WeChatPayClient(**options)


@pytest.fixture
def client(httpserver, merchant_key, platform_key) -> WeChatPayClient:
    return _client(httpserver, merchant_key, platform_key)


def _pay(client: WeChatPayClient, out_bill_no: str = "reward42", amount_fen: int = 500) -> TransferResult:
    return client.create_transfer(
        out_bill_no,
        "o-citizen-openid",
        amount_fen,
        "随手拍举报奖励",
        SCENE_ID,
        REPORT_INFOS,
        user_recv_perception="现金奖励",
    )


# signing, verifying, decrypting ----------------------------------------------------------------------------


def test_sign_request_is_rsa_sha256_over_the_five_lines(merchant_key):
    body = '{"appid":"wx-test-appid"}'
    signature = sign_request("POST", TRANSFER_PATH, 1554208460, "593BEC0C930BF1AFEB40B4A08C8FB242", body, merchant_key)
    expected = f"POST\n{TRANSFER_PATH}\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{body}\n".encode()
    merchant_key.public_key().verify(base64.b64decode(signature), expected, padding.PKCS1v15(), hashes.SHA256())
    # a GET signs an empty body line
    get_signature = sign_request("GET", "/v3/x?a=1", "1", "N", b"", merchant_key)
    merchant_key.public_key().verify(
        base64.b64decode(get_signature), b"GET\n/v3/x?a=1\n1\nN\n\n", padding.PKCS1v15(), hashes.SHA256()
    )


def test_verify_signature_accepts_good_and_refuses_the_rest(platform_key):
    keys = {PUBLIC_KEY_ID: platform_key.public_key()}
    now = int(time.time())
    body = b'{"state":"SUCCESS"}'
    headers = {
        "wechatpay-timestamp": str(now),  # header names are case-insensitive
        "Wechatpay-Nonce": "abc",
        "Wechatpay-Serial": PUBLIC_KEY_ID,
        "Wechatpay-Signature": _sign(platform_key, f"{now}\nabc\n".encode() + body + b"\n"),
    }
    verify_signature(headers, body, keys)
    with pytest.raises(WeChatPaySignatureError):
        verify_signature(headers, body.replace(b"SUCCESS", b"FAIL"), keys)
    with pytest.raises(WeChatPaySignatureError, match="unknown"):
        verify_signature({**headers, "Wechatpay-Serial": "PUB_KEY_ID_OTHER"}, body, keys)
    with pytest.raises(WeChatPaySignatureError, match="off"):
        verify_signature(headers, body, keys, now=now + 301)
    with pytest.raises(WeChatPaySignatureError):  # WeChat's probe notices must fail
        verify_signature({**headers, "Wechatpay-Signature": "WECHATPAY/SIGNTEST/abc"}, body, keys)
    with pytest.raises(WeChatPaySignatureError, match="missing"):
        verify_signature({"Wechatpay-Nonce": "abc"}, body, keys)


def test_decrypt_resource_with_and_without_associated_data():
    key = APIV3_KEY.encode()
    for associated_data in ("mch_payment", ""):
        ciphertext = AESGCM(key).encrypt(b"0123456789ab", b'{"state":"SUCCESS"}', associated_data.encode() or None)
        resource = {
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": base64.b64encode(ciphertext).decode(),
            "nonce": "0123456789ab",
            "associated_data": associated_data,
        }
        assert decrypt_resource(resource, key) == {"state": "SUCCESS"}
    with pytest.raises(WeChatPaySignatureError):
        decrypt_resource({**resource, "associated_data": "other"}, key)
    with pytest.raises(WeChatPaySignatureError):
        decrypt_resource(resource, b"x" * 32)


# transfers -------------------------------------------------------------------------------------------------


def test_a_transfer_is_created_and_signed_correctly(client, fake):
    result = _pay(client)
    assert result.state == WAIT_USER_CONFIRM
    assert result.package_info and result.transfer_bill_no
    assert not result.is_final
    assert fake.payments == 1
    sent = fake.bills["reward42"]["params"]
    assert sent == {
        "appid": APPID,
        "out_bill_no": "reward42",
        "transfer_scene_id": SCENE_ID,
        "openid": "o-citizen-openid",
        "transfer_amount": 500,
        "transfer_remark": "随手拍举报奖励",
        "notify_url": None,
        "user_recv_perception": "现金奖励",
        "transfer_scene_report_infos": [
            {"info_type": "活动名称", "info_content": "随手拍有奖举报"},
            {"info_type": "奖励说明", "info_content": "举报属实奖励"},
        ],
    }
    headers = fake.requests[-1]["headers"]
    assert AUTH_PATTERN.match(headers["Authorization"])
    assert headers["Wechatpay-Serial"] == PUBLIC_KEY_ID
    assert headers["Accept"] == "application/json"


def test_a_wrongly_signed_request_gets_401(httpserver, fake, platform_key):
    impostor = _client(httpserver, _new_key(), platform_key)
    with pytest.raises(WeChatPayError) as caught:
        _pay(impostor)
    assert (caught.value.status, caught.value.code) == (401, "SIGN_ERROR")
    assert not isinstance(caught.value, WeChatPayUnavailable)
    assert fake.payments == 0


def test_a_retry_with_the_same_out_bill_no_pays_once(client, fake):
    first = _pay(client)
    again = _pay(client)
    assert again.transfer_bill_no == first.transfer_bill_no
    assert again.package_info == first.package_info
    assert fake.payments == 1


def test_a_retry_after_a_lost_answer_pays_once(httpserver, fake, merchant_key, platform_key):
    impatient = _client(httpserver, merchant_key, platform_key, timeout=0.3)
    fake.delay_after_create = 0.8  # the bill is made, the answer arrives too late
    with pytest.raises(WeChatPayUnavailable):
        _pay(impatient)
    fake.delay_after_create = 0
    result = _pay(_client(httpserver, merchant_key, platform_key))  # the retried job, same out_bill_no
    assert result.state == WAIT_USER_CONFIRM
    assert fake.payments == 1


def test_the_same_out_bill_no_with_other_parameters_is_refused(client, fake):
    _pay(client, amount_fen=500)
    with pytest.raises(WeChatPayError) as caught:
        _pay(client, amount_fen=800)
    assert caught.value.code == "INVALID_REQUEST"
    assert fake.payments == 1


def test_query_returns_wait_user_confirm_then_success(client, fake):
    _pay(client)
    waiting = client.query_transfer("reward42")
    assert (waiting.state, waiting.out_bill_no) == (WAIT_USER_CONFIRM, "reward42")
    assert waiting.raw["transfer_amount"] == 500
    fake.user_confirms("reward42")
    done = client.query_transfer("reward42")
    assert done.state == SUCCESS
    assert done.is_final
    assert fake.requests[-1]["method"] == "GET"
    assert fake.requests[-1]["path"] == f"{TRANSFER_PATH}/out-bill-no/reward42"


def test_an_unconfirmed_transfer_fails_with_a_reason(client, fake):
    _pay(client)
    fake.expires("reward42")
    result = client.query_transfer("reward42")
    assert (result.state, result.fail_reason, result.is_final) == (FAIL, "OVERDUE_CLOSE", True)


def test_query_of_an_unknown_bill(client, fake):
    with pytest.raises(TransferNotFound) as caught:
        client.query_transfer("never1")
    assert (caught.value.status, caught.value.code) == (404, "NOT_FOUND")


@pytest.mark.parametrize(
    ("tamper", "match"),
    [
        ({"tamper_answers": True}, "does not match"),
        ({"sign_as": ("PUB_KEY_ID_IMPOSTOR", None)}, "unknown"),
        ({"sign_as": (PUBLIC_KEY_ID, None)}, "does not match"),
        ({"answer_timestamp_offset": -600}, "off"),
    ],
)
def test_an_answer_that_is_not_signed_by_wechat_pay_is_rejected(client, fake, tamper, match):
    for name, value in tamper.items():
        if name == "sign_as":
            value = (value[0], _new_key())  # the right key id, or not, with somebody else's key
        setattr(fake, name, value)
    with pytest.raises(WeChatPaySignatureError, match=match):
        _pay(client)


def test_an_unsigned_success_is_rejected(client, fake):
    fake.forced.append((200, {"out_bill_no": "reward42", "state": "SUCCESS"}, False))
    with pytest.raises(WeChatPaySignatureError, match="missing"):
        client.query_transfer("reward42")


# errors ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "sign", "error"),
    [
        (500, "SYSTEM_ERROR", True, WeChatPayUnavailable),
        (502, "", False, WeChatPayUnavailable),  # a gateway, unsigned
        (429, "FREQUENCY_LIMITED", True, WeChatPayUnavailable),
        (400, "SYSTEM_ERROR", True, WeChatPayUnavailable),
        (400, "PARAM_ERROR", True, WeChatPayError),
        (403, "NOT_ENOUGH", True, WeChatPayError),
        (403, "NO_AUTH", True, WeChatPayError),
    ],
)
def test_error_mapping(client, fake, status, code, sign, error):
    fake.force(status, code, "说明", sign=sign)
    with pytest.raises(error) as caught:
        _pay(client)
    assert caught.value.status == status
    if code:
        assert caught.value.code == code
    assert not (error is WeChatPayError and isinstance(caught.value, WeChatPayUnavailable))


def test_a_real_param_error_is_permanent(client, fake):
    with pytest.raises(WeChatPayError) as caught:
        client.create_transfer("reward7", "o-openid", 100, "奖励", SCENE_ID, [])
    assert (caught.value.status, caught.value.code) == (400, "PARAM_ERROR")


def test_a_timeout_is_transient(httpserver, merchant_key, platform_key):
    def slow(request):
        time.sleep(0.6)
        return Response("{}", content_type="application/json")

    httpserver.expect_request(re.compile(r"^/v3/.*")).respond_with_handler(slow)
    with pytest.raises(WeChatPayUnavailable, match="Timeout"):
        _client(httpserver, merchant_key, platform_key, timeout=0.2).query_transfer("reward42")


def test_a_connection_error_is_transient(merchant_key, platform_key):
    client = WeChatPayClient(
        "http://127.0.0.1:9",
        MCHID,
        APPID,
        MERCHANT_SERIAL,
        _private_pem(merchant_key),
        {PUBLIC_KEY_ID: _public_pem(platform_key)},
        APIV3_KEY,
        timeout=1,
    )
    with pytest.raises(WeChatPayUnavailable):
        client.query_transfer("reward42")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"out_bill_no": "reward-42"},  # digits and letters only
        {"out_bill_no": "r" * 33},
        {"amount_fen": 0},
        {"amount_fen": 1.5},
        {"amount_fen": 200_000},  # 2,000 yuan needs the encrypted user_name
    ],
)
def test_bad_arguments_are_refused_before_sending(client, fake, kwargs):
    arguments = {"out_bill_no": "reward42", "amount_fen": 500, **kwargs}
    with pytest.raises(ValueError):
        client.create_transfer(
            arguments["out_bill_no"], "o-openid", arguments["amount_fen"], "奖励", SCENE_ID, REPORT_INFOS
        )
    assert fake.requests == []


def test_the_remark_is_cut_to_32_characters(client, fake):
    client.create_transfer("reward9", "o-openid", 100, "奖" * 40, None, list(REPORT_INFOS.items()))
    assert fake.bills["reward9"]["params"]["transfer_remark"] == "奖" * 32
    assert fake.bills["reward9"]["params"]["transfer_scene_id"] == SCENE_ID  # the client's default scene


# callbacks -------------------------------------------------------------------------------------------------


def test_a_callback_is_verified_and_decrypted(client, fake):
    _pay(client)
    fake.user_confirms("reward42")
    headers, body = fake.callback("reward42")
    bill = client.parse_callback(headers, body)
    assert (bill["out_bill_no"], bill["state"], bill["transfer_amount"]) == ("reward42", SUCCESS, 500)
    assert TransferResult.from_bill(bill).is_final


def test_a_tampered_callback_is_rejected(client, fake):
    _pay(client)
    headers, body = fake.callback("reward42")
    envelope = json.loads(body)
    envelope["resource"]["nonce"] = "000000000000"
    with pytest.raises(WeChatPaySignatureError):
        client.parse_callback(headers, json.dumps(envelope, ensure_ascii=False).encode())
    with pytest.raises(WeChatPaySignatureError):
        client.parse_callback(headers, body + b" ")


def test_a_stale_callback_is_rejected(client, fake):
    _pay(client)
    headers, body = fake.callback("reward42", timestamp=int(time.time()) - 600)
    with pytest.raises(WeChatPaySignatureError, match="off"):
        client.parse_callback(headers, body)


def test_a_callback_encrypted_with_another_key_is_rejected(client, fake):
    _pay(client)
    headers, body = fake.callback("reward42", apiv3_key="X" * 32)
    with pytest.raises(WeChatPaySignatureError, match="decrypt"):
        client.parse_callback(headers, body)


# configuration ---------------------------------------------------------------------------------------------


def test_client_from_config(tmp_path, httpserver, fake, merchant_key, platform_key):
    (tmp_path / "apiclient_key.pem").write_bytes(_private_pem(merchant_key))
    (tmp_path / "pub_key.pem").write_bytes(_public_pem(platform_key))
    config = {
        "WECHATPAY_API_BASE": httpserver.url_for("/").rstrip("/"),
        "WECHATPAY_MCHID": MCHID,
        "WECHAT_APPID": APPID,
        "WECHATPAY_SERIAL_NO": MERCHANT_SERIAL,
        "WECHATPAY_PRIVATE_KEY_PATH": str(tmp_path / "apiclient_key.pem"),
        "WECHATPAY_PUBLIC_KEYS": json.dumps({PUBLIC_KEY_ID: str(tmp_path / "pub_key.pem")}),
        "WECHATPAY_APIV3_KEY": APIV3_KEY,
        "WECHATPAY_TRANSFER_SCENE_ID": SCENE_ID,
        "HTTP_TIMEOUT_SECONDS": 2.0,
    }
    client = client_from_config(config)
    assert client.create_transfer("reward1", "o-openid", 100, "奖励", None, REPORT_INFOS).state == WAIT_USER_CONFIRM
    assert MERCHANT_SERIAL in repr(client) and "PRIVATE" not in repr(client)
    assert client_from_config({**config, "WECHATPAY_API_BASE": ""}).base_url == wechat_pay.DEFAULT_API_BASE


def test_the_session_is_reused(httpserver, fake, merchant_key, platform_key):
    session = requests.Session()
    client = _client(httpserver, merchant_key, platform_key, session=session)
    assert client.http is session
    _pay(client)
    assert fake.payments == 1
