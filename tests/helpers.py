"""Test helpers: images, logins, a report submitted through HTTP."""

import io
import re
import threading
import uuid
from dataclasses import dataclass

from PIL import Image

from backend.services.responsibility.demo_district import DEMO_PASSWORD

# Inside the demo district: 大河中路街道 strip (lng 101.68–101.72), GCJ-02.
DAHEZHONGLU = {"lat": 26.50, "lng": 101.70, "coord": "gcj02"}
RENHE_TOWN = {"lat": 26.50, "lng": 101.74, "coord": "gcj02"}
OUTSIDE = {"lat": 30.60, "lng": 104.06, "coord": "gcj02"}  # Chengdu, no region


def jpeg_bytes(width=640, height=480, orientation: int | None = None, gps: bool = False, quality=85) -> bytes:
    image = Image.new("RGB", (width, height), (200, 30, 30))
    for x in range(0, width, max(1, width // 16)):
        image.paste((30, 30, 200), (x, 0, min(width, x + max(1, width // 32)), height))
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if gps:
        gps_ifd = exif.get_ifd(0x8825)
        gps_ifd[1] = "N"
        gps_ifd[2] = (26.0, 30.0, 0.0)
        gps_ifd[3] = "E"
        gps_ifd[4] = (101.0, 42.0, 0.0)
        exif.get_ifd(0x8769)[0x9003] = "2026:11:20 09:15:00"
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def png_bytes(width=64, height=48) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), (0, 128, 0, 128)).save(out, "PNG")
    return out.getvalue()


@dataclass
class Api:
    client: object

    def login_citizen(self, openid: str | None = None) -> str:
        response = self.client.post("/api/v1/auth/dev", json={"openid": openid or uuid.uuid4().hex[:12]})
        assert response.status_code == 200, response.json
        return response.json["token"]

    def login_staff(self, username: str, password: str = DEMO_PASSWORD) -> str:
        response = self.client.post("/api/v1/auth/staff", json={"username": username, "password": password})
        assert response.status_code == 200, response.json
        return response.json["token"]

    @staticmethod
    def auth(token: str) -> dict:
        return {"Authorization": f"Bearer {token}"}

    def get(self, path: str, token: str | None = None, **kwargs):
        return self.client.get(path, headers=self.auth(token) if token else {}, **kwargs)

    def post(self, path: str, token: str | None = None, json=None, headers=None, **kwargs):
        all_headers = {**(self.auth(token) if token else {}), **(headers or {})}
        return self.client.post(path, json=json, headers=all_headers, **kwargs)

    def upload(self, token: str, data: bytes, filename="photo.jpg", content_type="image/jpeg"):
        return self.client.post(
            "/api/v1/photos",
            headers=self.auth(token),
            data={"file": (io.BytesIO(data), filename, content_type)},
            content_type="multipart/form-data",
        )

    def upload_ok(self, token: str, data: bytes | None = None) -> int:
        response = self.upload(token, data or jpeg_bytes())
        assert response.status_code == 201, response.json
        return response.json["id"]

    def submit(self, token: str, category="illegal_ad", location=None, photo_ids=None, key=None, **extra):
        body = {
            "category": category,
            "description": "电线杆上贴满了小广告",
            "location": location or DAHEZHONGLU,
            "address": "大河中路 88 号",
            "photo_ids": photo_ids if photo_ids is not None else [self.upload_ok(token)],
            **extra,
        }
        headers = {"Idempotency-Key": key} if key else None
        return self.post("/api/v1/reports", token, json=body, headers=headers)

    def submit_ok(self, token: str, **kwargs) -> dict:
        response = self.submit(token, **kwargs)
        assert response.status_code == 201, response.json
        return response.json


def concurrently(*calls):
    """Run the calls in threads released together by a barrier; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Console:
    """The staff console through the Flask test client: a browser's cookie jar, forms posted with their CSRF token."""

    client: object

    def csrf(self) -> str:
        """The session's token, as every form of every page carries it (the login page makes the first one)."""
        with self.client.session_transaction() as session:
            token = session.get("csrf_token")
        if token is None:
            found = CSRF_INPUT.search(self.client.get("/console/login").get_data(as_text=True))
            assert found, "no CSRF token on the login page"
            token = found.group(1)
        return token

    def login(self, username: str, password: str = DEMO_PASSWORD):
        return self.client.post(
            "/console/login", data={"username": username, "password": password, "csrf_token": self.csrf()}
        )

    def login_ok(self, username: str) -> "Console":
        response = self.login(username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return self

    def post(self, path: str, data: dict | None = None, **kwargs):
        """A form post carrying the session's CSRF token, as the page's form would."""
        return self.client.post(path, data={"csrf_token": self.csrf(), **(data or {})}, **kwargs)

    def page(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        return response.get_data(as_text=True)
