"""WeChat Pay API v3 (api.mch.weixin.qq.com): merchant transfer to a user's balance, 商家转账 (user-confirm mode).

Wire format, as documented (pay.weixin.qq.com/doc/v3/merchant, 2025):
- 发起转账: POST /v3/fund-app/mch-transfer/transfer-bills
  {appid, out_bill_no, transfer_scene_id, openid, user_name?, transfer_amount (fen), transfer_remark,
  notify_url?, user_recv_perception?, transfer_scene_report_infos: [{info_type, info_content}]}
  → 200 {out_bill_no, transfer_bill_no, create_time, state, package_info?, fail_reason?}
- 商户单号查询转账单: GET /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}
  → 200 {mch_id, out_bill_no, transfer_bill_no, appid, state, transfer_amount, transfer_remark, fail_reason?,
  openid?, user_name?, create_time, update_time}; only bills of the last 30 days.
- Bill states: ACCEPTED, PROCESSING, WAIT_USER_CONFIRM, TRANSFERING, SUCCESS, FAIL, CANCELING, CANCELLED.
  SUCCESS, FAIL and CANCELLED are final. WAIT_USER_CONFIRM: the citizen confirms receipt in the mini-program
  with wx.requestMerchantTransfer({mchId, appId, package: package_info}); unconfirmed bills fail after 24 h.
- 回调 (notify_url): event MCHTRANSFER.BILL.FINISHED when a bill reaches SUCCESS, FAIL or CANCELLED; the body's
  `resource` is AEAD_AES_256_GCM-encrypted with the APIv3 key. The same notice may come more than once.

Every request is signed (Authorization: WECHATPAY2-SHA256-RSA2048 …, RSA-SHA256 with the merchant API key over
"METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n"); every response and callback is verified against the WeChat
Pay public key (or platform certificate) named by Wechatpay-Serial, over "TIMESTAMP\\nNONCE\\nBODY\\n", and
refused when its timestamp is more than 5 minutes off. WeChat also sends probe callbacks whose signature starts
with "WECHATPAY/SIGNTEST/": they must fail verification, and do.

Idempotency is by out_bill_no: repeating a transfer with the same number and the same parameters returns the
existing bill, never a second payment. Retry with the SAME number after any unclear outcome (timeout, 5xx,
SYSTEM_ERROR, FREQUENCY_LIMITED, an unverifiable answer); a new number is only safe once a query has shown the
old bill FAIL or CANCELLED (the docs warn of paying twice otherwise). A repeat with the same number but different
parameters is refused with a 4xx error code (permanent here).

Errors: network trouble, timeouts, HTTP 5xx/408/429 and the codes SYSTEM_ERROR / FREQUENCY_LIMITED raise
WeChatPayUnavailable (transient, retry later). Other 4xx raise WeChatPayError(code, message, status) (permanent
for this request; NOT_ENOUGH, the operating account short of funds, may be retried with the same number after a
top-up); a query for an unknown number raises its subclass TransferNotFound. A missing or bad signature, a stale
timestamp, an unknown key id or a resource that does not decrypt raise WeChatPaySignatureError.
"""

import base64
import json
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.clients.http import DeadlineSession

DEFAULT_API_BASE = "https://api.mch.weixin.qq.com"
TRANSFER_BILLS_PATH = "/v3/fund-app/mch-transfer/transfer-bills"
BILL_BY_OUT_NO_PATH = TRANSFER_BILLS_PATH + "/out-bill-no/{out_bill_no}"

AUTH_SCHEME = "WECHATPAY2-SHA256-RSA2048"
MAX_CLOCK_SKEW_SECONDS = 300  # responses and callbacks more than 5 minutes off are refused
CALLBACK_EVENT = "MCHTRANSFER.BILL.FINISHED"
RESOURCE_ALGORITHM = "AEAD_AES_256_GCM"
PUBLIC_KEY_ID_PREFIX = "PUB_KEY_ID_"  # WeChat Pay public key ids; platform certificate serials are hex

# 单据状态 bill states
ACCEPTED = "ACCEPTED"  # 转账已受理
PROCESSING = "PROCESSING"  # 转账锁定资金中 (stays here when the operating account is short of funds)
WAIT_USER_CONFIRM = "WAIT_USER_CONFIRM"  # 待收款用户确认: show the confirm page with package_info
TRANSFERING = "TRANSFERING"  # 转账中: the user may retry the confirm page
SUCCESS = "SUCCESS"  # 转账成功
FAIL = "FAIL"  # 转账失败 (also: not confirmed within 24 hours)
CANCELING = "CANCELING"  # 撤销中
CANCELLED = "CANCELLED"  # 已撤销
STATES = (ACCEPTED, PROCESSING, WAIT_USER_CONFIRM, TRANSFERING, SUCCESS, FAIL, CANCELING, CANCELLED)
FINAL_STATES = frozenset({SUCCESS, FAIL, CANCELLED})

TRANSIENT_CODES = frozenset({"SYSTEM_ERROR", "FREQUENCY_LIMITED"})
TRANSIENT_STATUSES = frozenset({408, 429})
NOT_FOUND_CODE = "NOT_FOUND"

OUT_BILL_NO = re.compile(r"^[0-9A-Za-z]{1,32}$")  # 商户单号: digits and letters only, at most 32
REMARK_MAX_CHARS = 32  # 转账备注, shown to the user
USER_NAME_REQUIRED_FROM_FEN = 200_000  # 2,000 yuan and above need the encrypted user_name (not supported here)


class WeChatPayError(Exception):
    """WeChat Pay refused the request (HTTP 4xx with {"code", "message"}): permanent for this request."""

    def __init__(self, code: str, message: str, status: int | None = None):
        super().__init__(f"{code}: {message}" if status is None else f"HTTP {status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class TransferNotFound(WeChatPayError):
    """No bill with this out_bill_no (or it is older than 30 days). After a create that timed out, this means the
    request never landed: creating again with the same number is safe."""


class WeChatPayUnavailable(Exception):
    """Transient: network trouble, timeout, HTTP 5xx/408/429, SYSTEM_ERROR, FREQUENCY_LIMITED. The outcome of a
    create is unknown: retry with the same out_bill_no (or query it), never with a new one."""

    def __init__(self, message: str, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status = status
        self.code = code


class WeChatPaySignatureError(Exception):
    """A response or callback that cannot be trusted: missing or bad signature, unknown key id, stale timestamp,
    or an encrypted resource that does not decrypt. For a response to a create the outcome is unknown: query it."""


# Crypto: signing, verifying, decrypting (all through `cryptography`) ------------------------------------------


def _as_bytes(value: str | bytes | None) -> bytes:
    if value is None:
        return b""
    return value.encode("utf-8") if isinstance(value, str) else value


def load_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """The merchant API private key (apiclient_key.pem, PKCS#8 or PKCS#1 PEM)."""
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the merchant API key must be an RSA private key")
    return key


def load_public_key(pem: bytes) -> rsa.RSAPublicKey:
    """A WeChat Pay public key (pub_key.pem) or a platform certificate (wechatpay_*.pem): either PEM works."""
    if b"-----BEGIN CERTIFICATE-----" in pem:
        key = x509.load_pem_x509_certificate(pem).public_key()
    else:
        key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("a WeChat Pay public key must be an RSA public key")
    return key


def signing_message(method: str, path_with_query: str, timestamp: str | int, nonce: str, body: str | bytes) -> bytes:
    """The request 签名串: METHOD\\nPATH?QUERY\\nTIMESTAMP\\nNONCE\\nBODY\\n (body empty for GET)."""
    head = f"{method.upper()}\n{path_with_query}\n{timestamp}\n{nonce}\n".encode()
    return head + _as_bytes(body) + b"\n"


def sign_request(
    method: str,
    path_with_query: str,
    timestamp: str | int,
    nonce: str,
    body: str | bytes,
    private_key: rsa.RSAPrivateKey,
) -> str:
    """Base64 of RSA-SHA256 (PKCS#1 v1.5) with the merchant API key over the request 签名串."""
    message = signing_message(method, path_with_query, timestamp, nonce, body)
    signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def authorization_header(mchid: str, serial_no: str, nonce: str, timestamp: str | int, signature: str) -> str:
    """The Authorization value: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",
    serial_no="…" (serial_no is the merchant API certificate's serial number)."""
    return (
        f'{AUTH_SCHEME} mchid="{mchid}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict: look the name up case-insensitively
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def verify_signature(
    headers: Mapping[str, str],
    body: str | bytes,
    public_keys: Mapping[str, rsa.RSAPublicKey],
    now: float | None = None,
    max_skew: int = MAX_CLOCK_SKEW_SECONDS,
) -> None:
    """Check a response's or callback's Wechatpay-Signature over TIMESTAMP\\nNONCE\\nBODY\\n with the public key
    named by Wechatpay-Serial. `body` must be the raw bytes as received. Raises WeChatPaySignatureError."""
    timestamp = _header(headers, "Wechatpay-Timestamp")
    nonce = _header(headers, "Wechatpay-Nonce")
    signature = _header(headers, "Wechatpay-Signature")
    serial = _header(headers, "Wechatpay-Serial")
    if not (timestamp and nonce and signature and serial):
        raise WeChatPaySignatureError("the Wechatpay-Timestamp/Nonce/Signature/Serial headers are missing")
    key = public_keys.get(serial)
    if key is None:
        raise WeChatPaySignatureError(f"signed with an unknown WeChat Pay key {serial!r}")
    try:
        signed_at = int(timestamp)
    except ValueError:
        raise WeChatPaySignatureError(f"Wechatpay-Timestamp is not a number: {timestamp!r}") from None
    current = time.time() if now is None else now
    if abs(current - signed_at) > max_skew:
        raise WeChatPaySignatureError(f"Wechatpay-Timestamp is {int(current - signed_at)} s off (over {max_skew})")
    try:
        raw_signature = base64.b64decode(signature, validate=True)
    except ValueError:
        raise WeChatPaySignatureError("Wechatpay-Signature is not base64") from None
    message = f"{timestamp}\n{nonce}\n".encode() + _as_bytes(body) + b"\n"
    try:
        key.verify(raw_signature, message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise WeChatPaySignatureError("the WeChat Pay signature does not match") from None


def decrypt_resource(resource: Mapping[str, Any], apiv3_key: bytes) -> dict:
    """Decrypt a callback's `resource` ({algorithm: AEAD_AES_256_GCM, ciphertext (base64, tag appended), nonce,
    associated_data?}) with the 32-byte APIv3 key; returns the JSON object inside."""
    if len(apiv3_key) != 32:
        raise ValueError("the APIv3 key must be 32 bytes")
    if resource.get("algorithm") != RESOURCE_ALGORITHM:
        raise WeChatPaySignatureError(f"unsupported resource algorithm {resource.get('algorithm')!r}")
    try:
        ciphertext = base64.b64decode(resource["ciphertext"], validate=True)
        nonce = _as_bytes(resource["nonce"])
        associated_data = _as_bytes(resource.get("associated_data")) or None
        plaintext = AESGCM(apiv3_key).decrypt(nonce, ciphertext, associated_data)
        decrypted = json.loads(plaintext)
    except (KeyError, TypeError, ValueError, InvalidTag):
        raise WeChatPaySignatureError("the callback resource does not decrypt with the APIv3 key") from None
    if not isinstance(decrypted, dict):
        raise WeChatPaySignatureError("the decrypted resource is not a JSON object")
    return decrypted


def _nonce() -> str:
    return secrets.token_hex(16).upper()


# The client --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferResult:
    out_bill_no: str
    transfer_bill_no: str | None
    state: str
    package_info: str | None  # for wx.requestMerchantTransfer while WAIT_USER_CONFIRM
    fail_reason: str | None
    raw: dict = field(repr=False)

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_STATES

    @classmethod
    def from_bill(cls, bill: Mapping[str, Any]) -> "TransferResult":
        """From a create or query answer, or a decrypted callback."""
        return cls(
            out_bill_no=str(bill["out_bill_no"]),
            transfer_bill_no=bill.get("transfer_bill_no"),
            state=str(bill["state"]),
            package_info=bill.get("package_info"),
            fail_reason=bill.get("fail_reason"),
            raw=dict(bill),
        )


def scene_report_infos_payload(infos: Mapping[str, str] | Sequence[Any]) -> list[dict[str, str]]:
    """转账场景报备信息 as WeChat wants it: [{info_type, info_content}]. Takes {info_type: info_content}, pairs, or
    dicts already in shape (the required info types depend on the transfer scene, e.g. 活动名称 and 奖励说明)."""
    items = infos.items() if isinstance(infos, Mapping) else infos
    payload = []
    for item in items:
        if isinstance(item, Mapping):
            payload.append({"info_type": str(item["info_type"]), "info_content": str(item["info_content"])})
        else:
            info_type, info_content = item
            payload.append({"info_type": str(info_type), "info_content": str(info_content)})
    return payload


class WeChatPayClient:
    def __init__(
        self,
        base_url: str,
        mchid: str,
        appid: str,
        serial_no: str,
        private_key_pem: bytes,
        platform_public_keys: Mapping[str, bytes],
        apiv3_key: str,
        timeout: float = 5.0,
        session: requests.Session | None = None,
        transfer_scene_id: str | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        self.mchid = mchid
        self.appid = appid
        self.serial_no = serial_no  # the merchant API certificate's serial number
        self.private_key = load_private_key(private_key_pem)
        self.public_keys = {serial: load_public_key(pem) for serial, pem in platform_public_keys.items()}
        if not self.public_keys:
            raise ValueError("at least one WeChat Pay public key (or platform certificate) is needed")
        self.apiv3_key = apiv3_key.encode("utf-8")
        if len(self.apiv3_key) != 32:
            raise ValueError("the APIv3 key must be 32 bytes")
        self.timeout = timeout
        self.transfer_scene_id = transfer_scene_id
        self.http = session or DeadlineSession()
        # In public-key mode, naming the key in Wechatpay-Serial makes WeChat sign the answer with it.
        self.wechatpay_serial = next((s for s in self.public_keys if s.startswith(PUBLIC_KEY_ID_PREFIX)), None)

    def __repr__(self) -> str:  # never the keys
        return f"WeChatPayClient(base_url={self.base_url!r}, mchid={self.mchid!r}, serial_no={self.serial_no!r})"

    # requests --------------------------------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: bytes = b"") -> dict:
        timestamp, nonce = str(int(time.time())), _nonce()
        signature = sign_request(method, path, timestamp, nonce, body, self.private_key)
        headers = {
            "Authorization": authorization_header(self.mchid, self.serial_no, nonce, timestamp, signature),
            "Accept": "application/json",
        }
        if body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        if self.wechatpay_serial:
            headers["Wechatpay-Serial"] = self.wechatpay_serial
        try:
            response = self.http.request(
                method,
                f"{self.base_url}{path}",
                data=body or None,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise WeChatPayUnavailable(f"{method} {path}: {type(exc).__name__}: {exc}") from exc

        status, raw = response.status_code, response.content
        if 200 <= status < 300 or _header(response.headers, "Wechatpay-Signature"):
            # Success must be signed; errors are checked when signed (a gateway's 502 or a 401 is not).
            verify_signature(response.headers, raw, self.public_keys)
        answer = _json_object(raw)
        if 200 <= status < 300:
            if answer is None:
                raise WeChatPayUnavailable(f"{method} {path}: HTTP {status} without a JSON object", status=status)
            return answer
        code = str((answer or {}).get("code") or f"HTTP_{status}")
        message = str((answer or {}).get("message") or "")
        if status >= 500 or status in TRANSIENT_STATUSES or code in TRANSIENT_CODES:
            raise WeChatPayUnavailable(f"{method} {path}: HTTP {status} {code}: {message}", status=status, code=code)
        if status == 404 and code == NOT_FOUND_CODE:
            raise TransferNotFound(code, message, status)
        raise WeChatPayError(code, message, status)

    # API -------------------------------------------------------------------------------------------------------

    def create_transfer(
        self,
        out_bill_no: str,
        openid: str,
        amount_fen: int,
        remark: str,
        scene_id: str | None,
        scene_report_infos: Mapping[str, str] | Sequence[Any],
        notify_url: str | None = None,
        user_recv_perception: str | None = None,
    ) -> TransferResult:
        """发起转账. Safe to repeat with the same out_bill_no and the same arguments: WeChat returns the existing
        bill (with its package_info), never a second payment. `remark` (shown to the user) is cut to 32
        characters, the same way on every attempt. `scene_id` None means the client's transfer_scene_id."""
        if not OUT_BILL_NO.match(out_bill_no or ""):
            raise ValueError("out_bill_no must be 1-32 digits and letters")
        if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
            raise ValueError("amount_fen must be a positive integer (fen)")
        if amount_fen >= USER_NAME_REQUIRED_FROM_FEN:
            raise ValueError("transfers of 2,000 yuan or more need the encrypted user_name, which is not supported")
        scene = scene_id or self.transfer_scene_id
        if not scene:
            raise ValueError("no transfer scene id (转账场景ID)")
        payload: dict[str, Any] = {
            "appid": self.appid,
            "out_bill_no": out_bill_no,
            "transfer_scene_id": str(scene),
            "openid": openid,
            "transfer_amount": amount_fen,
            "transfer_remark": remark[:REMARK_MAX_CHARS],
        }
        if notify_url:
            payload["notify_url"] = notify_url
        if user_recv_perception:
            payload["user_recv_perception"] = user_recv_perception
        payload["transfer_scene_report_infos"] = scene_report_infos_payload(scene_report_infos)
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return _result(self._request("POST", TRANSFER_BILLS_PATH, body), TRANSFER_BILLS_PATH)

    def query_transfer(self, out_bill_no: str) -> TransferResult:
        """商户单号查询转账单. Raises TransferNotFound for an unknown number."""
        if not OUT_BILL_NO.match(out_bill_no or ""):
            raise ValueError("out_bill_no must be 1-32 digits and letters")
        path = BILL_BY_OUT_NO_PATH.format(out_bill_no=quote(out_bill_no, safe=""))
        return _result(self._request("GET", path), path)

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> dict:
        """Verify a notify_url callback (raw body bytes as received) and return the decrypted bill:
        {mchid, out_bill_no, transfer_bill_no, state, transfer_amount, openid, fail_reason?, create_time,
        update_time}. Raises WeChatPaySignatureError; answer WeChat with a 4xx/5xx then, so it retries.
        Notices repeat: applying one must be idempotent."""
        verify_signature(headers, body, self.public_keys)
        envelope = _json_object(body)
        resource = envelope.get("resource") if envelope else None
        if not isinstance(resource, Mapping):
            raise WeChatPaySignatureError("the callback has no resource to decrypt")
        bill = decrypt_resource(resource, self.apiv3_key)
        mchid = bill.get("mchid") or bill.get("mch_id")
        if mchid is not None and str(mchid) != self.mchid:
            raise WeChatPaySignatureError(f"the callback is for merchant {mchid}, not {self.mchid}")
        if "out_bill_no" not in bill or "state" not in bill:
            raise WeChatPaySignatureError("the decrypted callback has no out_bill_no/state")
        return bill


def _json_object(raw: bytes) -> dict | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _result(answer: dict, path: str) -> TransferResult:
    if not answer.get("out_bill_no") or not answer.get("state"):
        raise WeChatPayUnavailable(f"{path}: the answer has no out_bill_no/state")
    return TransferResult.from_bill(answer)


# What a transfer cannot be signed, sent or checked without. Empty means WeChat Pay is not set up here at all.
REQUIRED_SETTINGS = (
    "WECHATPAY_MCHID",
    "WECHAT_APPID",
    "WECHATPAY_SERIAL_NO",
    "WECHATPAY_PRIVATE_KEY_PATH",
    "WECHATPAY_PUBLIC_KEYS",
    "WECHATPAY_APIV3_KEY",
)


def missing_settings(config) -> list[str]:
    """The REQUIRED_SETTINGS that are empty or absent."""
    return [name for name in REQUIRED_SETTINGS if not config.get(name)]


def client_from_config(config) -> WeChatPayClient:
    """From WECHATPAY_API_BASE, WECHATPAY_MCHID, WECHAT_APPID, WECHATPAY_SERIAL_NO, WECHATPAY_PRIVATE_KEY_PATH,
    WECHATPAY_PUBLIC_KEYS (JSON {key id or certificate serial: PEM path}), WECHATPAY_APIV3_KEY,
    WECHATPAY_TRANSFER_SCENE_ID and HTTP_TIMEOUT_SECONDS."""
    public_keys = config.get("WECHATPAY_PUBLIC_KEYS") or {}
    if isinstance(public_keys, str):
        public_keys = json.loads(public_keys)
    return WeChatPayClient(
        config.get("WECHATPAY_API_BASE") or DEFAULT_API_BASE,
        config["WECHATPAY_MCHID"],
        config["WECHAT_APPID"],
        config["WECHATPAY_SERIAL_NO"],
        Path(config["WECHATPAY_PRIVATE_KEY_PATH"]).read_bytes(),
        {serial: Path(path).read_bytes() for serial, path in public_keys.items()},
        config["WECHATPAY_APIV3_KEY"],
        timeout=config.get("HTTP_TIMEOUT_SECONDS", 5.0),
        transfer_scene_id=config.get("WECHATPAY_TRANSFER_SCENE_ID") or None,
    )
