"""The real local stack (`make run`) in a subprocess: HTTP, the S3 event bridge, data across restarts."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from infra.local import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


class RunningStack:
    def __init__(self, data_dir: Path, port: int, log_path: Path, **env: str) -> None:
        self.port = port
        self.log_path = log_path
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        environment.pop("SIDELOAD_ALLOW_HOSTS", None)
        environment.update({"PORT": str(port), "DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **env})
        self.log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra.local"],
            cwd=ROOT,
            env=environment,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.api_key = self.wait_for(r"API key: (\w+)").group(1)

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log_path.read_text())
            if found:
                return found
            if self.process.poll() is not None:
                raise AssertionError(f"local stack exited:\n{self.log_path.read_text()}")
            time.sleep(0.1)
        raise AssertionError(f"{pattern!r} not seen:\n{self.log_path.read_text()}")

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as reply:
            return reply.status, dict(reply.headers), reply.read()

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=30) == 0
        self.log.close()


def test_local_stack_serves_credits_and_keeps_data_across_restarts(tmp_path):
    port = free_port()
    data_dir = tmp_path / "data"
    stack = RunningStack(data_dir, port, tmp_path / "first.log")
    try:
        status, headers, body = stack.get(f"/2/credits.json?key={stack.api_key}")
        assert status == 200
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body)["credits"]["limit"] == 500
        assert headers["X-RateLimit-Remaining"] == "500"
        status, headers, body = stack.get("/2/credits")
        assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<credits>')
    finally:
        stack.stop()
    assert "stopped" in (tmp_path / "first.log").read_text()
    assert (data_dir / "snapshot" / "RECORDS_TABLE_NAME.jsonl").stat().st_size > 0

    again = RunningStack(data_dir, port, tmp_path / "second.log")
    try:
        assert again.api_key == stack.api_key  # the application was restored, not re-created
        status, _, _ = again.get(f"/2/credits.json?key={stack.api_key}")
        assert status == 200
    finally:
        again.stop()


def test_local_stack_hands_new_originals_to_the_event_handler(tmp_path):
    port = free_port()
    stack = RunningStack(tmp_path / "data", port, tmp_path / "stack.log", LOCAL_API_KEY="fixedkey123")
    try:
        assert stack.api_key == "fixedkey123"
        endpoint = stack.wait_for(r"AWS endpoint|data kept")  # started
        assert endpoint
        import boto3

        moto_url = re.search(r"moto on (http://127\.0\.0\.1:\d+)", stack.log_path.read_text())
        assert moto_url, "the stack prints its embedded AWS endpoint"
        s3 = boto3.client(
            "s3",
            endpoint_url=moto_url.group(1),
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
        bucket = s3.list_buckets()["Buckets"][0]["Name"]
        s3.put_object(Bucket=bucket, Key="i/with space+plus.png", Body=b"x")
        s3.put_object(Bucket=bucket, Key="t/ignored.jpg", Body=b"x")
        stack.wait_for(r"ignoring 'i/with space\+plus\.png'", timeout=20)
        assert "t/ignored.jpg" not in stack.log_path.read_text()
    finally:
        stack.stop()


def _request(
    url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(
        url, data=data, headers=headers or {}, method="POST" if data is not None else "GET"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as reply:
            return reply.status, dict(reply.headers), reply.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_local_stack_uploads_over_http_in_every_form(tmp_path):
    import base64
    from urllib.parse import urlencode

    from tests import images
    from tests.httpserver import serving

    port = free_port()
    stack = RunningStack(tmp_path / "data", port, tmp_path / "stack.log", SIDELOAD_ALLOW_HOSTS="127.0.0.1")
    base = f"http://127.0.0.1:{port}"
    try:
        photo = images.jpeg((120, 80), quality=92)
        content_type, body = images.multipart({"title": "over http"}, {"image": ("photo.jpg", photo)})
        status, _, reply = _request(
            f"{base}/2/upload.json?key={stack.api_key}", body, {"Content-Type": content_type}
        )
        assert status == 200, reply
        uploaded = json.loads(reply)["upload"]
        assert uploaded["links"]["original"].startswith(base)

        # links.original leads (through a presigned URL on the embedded S3) to the stored bytes
        status, _, stored = _request(uploaded["links"]["original"])
        assert status == 200
        assert stored[:3] == b"\xff\xd8\xff"

        encoded = urlencode({"key": stack.api_key, "image": base64.b64encode(images.png()).decode()}).encode()
        status, _, reply = _request(
            f"{base}/2/upload.json", encoded, {"Content-Type": "application/x-www-form-urlencoded"}
        )
        assert status == 200, reply

        with serving() as served:
            served.files["/remote.gif"] = (images.animated_gif(), "image/gif")
            fields = urlencode({"key": stack.api_key, "image": served.url("/remote.gif")}).encode()
            status, _, reply = _request(
                f"{base}/2/upload.json", fields, {"Content-Type": "application/x-www-form-urlencoded"}
            )
            assert status == 200, reply
            assert json.loads(reply)["upload"]["image"]["animated"] == "true"

        status, _, reply = _request(f"{base}/2/image/{uploaded['image']['hash']}.json")
        assert json.loads(reply)["image"]["image"]["views"] == 1
        status, _, reply = _request(f"{base}/2/delete/{uploaded['image']['deletehash']}.json")
        assert json.loads(reply) == {"delete": {"message": "Success"}}
        assert _request(uploaded["links"]["original"])[0] == 404
    finally:
        stack.stop()


def test_local_stack_makes_thumbnails_and_counts_views(tmp_path):
    import io

    from PIL import Image

    from tests import images

    port = free_port()
    stack = RunningStack(tmp_path / "data", port, tmp_path / "stack.log")
    base = f"http://127.0.0.1:{port}"
    try:
        content_type, body = images.multipart({}, {"image": ("big.png", images.png((1200, 900)))})
        status, _, reply = _request(
            f"{base}/2/upload.json?key={stack.api_key}", body, {"Content-Type": content_type}
        )
        assert status == 200, reply
        image_hash = json.loads(reply)["upload"]["image"]["hash"]

        opener = urllib.request.build_opener(NoRedirect)
        deadline = time.monotonic() + 15
        location = ""
        while time.monotonic() < deadline:
            location = opener.open(f"{base}/{image_hash}s.jpg").headers["Location"]
            if f"t/{image_hash}s.jpg" in location:
                break
            time.sleep(0.2)
        assert f"t/{image_hash}s.jpg" in location, stack.log_path.read_text()
        status, _, square = _request(location)
        assert Image.open(io.BytesIO(square)).size == (90, 90)

        for _ in range(3):
            _request(f"{base}/{image_hash}.png")
        deadline = time.monotonic() + 15
        viewed = 0
        while time.monotonic() < deadline and viewed < 3:
            viewed = json.loads(_request(f"{base}/2/stats.json?view=today")[2])["stats"]["images_veiwed"]
            time.sleep(0.3)
        assert viewed == 3, stack.log_path.read_text()
    finally:
        stack.stop()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None

    def http_error_302(self, req, fp, code, msg, headers):  # type: ignore[no-untyped-def]
        return fp


def test_local_stack_uses_an_existing_aws_endpoint(tmp_path):
    """With AWS_ENDPOINT_URL set, the stack creates its resources there instead of embedding moto."""
    import boto3
    from moto.server import ThreadedMotoServer

    moto_port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{moto_port}"
    try:
        port = free_port()
        stack = RunningStack(
            tmp_path / "data",
            port,
            tmp_path / "stack.log",
            AWS_ENDPOINT_URL=endpoint,
            AWS_ACCESS_KEY_ID="local",
            AWS_SECRET_ACCESS_KEY="local",
            AWS_DEFAULT_REGION="us-east-1",
        )
        try:
            assert f"AWS endpoint {endpoint}" in stack.log_path.read_text()
            assert stack.get(f"/2/credits.json?key={stack.api_key}")[0] == 200
            tables = boto3.client(
                "dynamodb",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="local",
                aws_secret_access_key="local",
            ).list_tables()["TableNames"]
            assert {"imgshelf-local-records", "imgshelf-local-credits"} <= set(tables)
        finally:
            stack.stop()
        assert not (tmp_path / "data" / "snapshot").exists()  # the other server keeps the data
    finally:
        server.stop()
