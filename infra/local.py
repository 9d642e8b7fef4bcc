"""The local stack: embedded moto, the template's resources, the S3 -> thumbnail bridge, the app on HTTP.

Run with `make run` (or `python -m infra.local` inside the venv). Settings: HOST, PORT, DATA_DIR,
LOCAL_API_KEY, AWS_ENDPOINT_URL (use another AWS-compatible server instead of the embedded moto).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from infra import snapshot
from infra.resources import ensure_stack

log = logging.getLogger("imgshelf.local")

STACK = "imgshelf-local"
QUEUE = "imgshelf-local-originals"
SAVE_EVERY_SECONDS = 30
REPAIR_EVERY_SECONDS = 300  # AWS runs the repair hourly; locally a lost event is mended sooner
MAX_EVENT_ATTEMPTS = 3  # Lambda retries an async event twice, then drops it


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class LocalStack:
    """Everything `make run` starts, with start() and stop() for tests."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        data_dir: Path = Path(".local"),
        endpoint: str | None = None,
        api_key: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.endpoint = endpoint
        self.api_key = api_key
        self.embedded = endpoint is None
        self._moto: Any = None
        self._server: Any = None
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._save_lock = threading.Lock()
        self.settings: dict[str, str] = {}
        self.queue_url = ""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> LocalStack:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        if self.embedded:
            from moto.server import ThreadedMotoServer

            moto_port = free_port(self.host)
            self._moto = ThreadedMotoServer(ip_address=self.host, port=moto_port, verbose=False)
            self._moto.start()
            self.endpoint = f"http://{self.host}:{moto_port}"
        os.environ["AWS_ENDPOINT_URL"] = str(self.endpoint)

        import boto3

        session = boto3.session.Session()
        self.settings = ensure_stack(session, STACK, STACK)
        os.environ.update(self.settings)
        if self.embedded:
            snapshot.restore(session, self.data_dir, self.settings)
        self.queue_url = self._wire_notifications(session)
        self._configure_app()
        self.api_key = self._ensure_application()
        self._start_http()
        self._spawn(self._bridge_loop, "s3-events")
        self._spawn(self._stream_loop, "records-stream")
        self._spawn(self._repair_loop, "repair")
        if self.embedded:
            self._spawn(self._save_loop, "snapshots")
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)
        if self.embedded:
            self.save()
            if self._moto is not None:
                self._moto.stop()

    def save(self) -> None:
        import boto3

        with self._save_lock:
            snapshot.save(boto3.session.Session(), self.data_dir, self.settings)

    # --- set-up -------------------------------------------------------------------------------
    def _configure_app(self) -> None:
        os.environ["PUBLIC_BASE_URL"] = self.url
        os.environ.setdefault("SESSION_SECRET", self._local_secret())
        from chalicelib import bootstrap

        bootstrap.reset()

    def _local_secret(self) -> str:
        """A development secret generated on first start and kept under DATA_DIR (never committed)."""
        path = self.data_dir / "session-secret"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    def _wire_notifications(self, session: Any) -> str:
        sqs = session.client("sqs")
        s3 = session.client("s3")
        queue_url = sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        s3.put_bucket_notification_configuration(
            Bucket=self.settings["IMAGES_BUCKET_NAME"],
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "i/"}]}},
                    }
                ]
            },
        )
        return str(queue_url)

    def _ensure_application(self) -> str:
        from chalicelib import bootstrap
        from chalicelib.services import applications

        state_path = self.data_dir / "local.json"
        state = json.loads(state_path.read_text()) if state_path.exists() else {}
        key = self.api_key or state.get("api_key")
        if key and bootstrap.records().application_for_key(key) is not None:
            return str(key)
        app = applications.create(name="local development", owner=None, callback="oob", api_key=key)
        state_path.write_text(json.dumps({"api_key": app.api_key}))
        return app.api_key

    def _start_http(self) -> None:
        from chalice.config import Config
        from chalice.local import ChaliceRequestHandler, LocalDevServer

        from app import app

        lock = threading.Lock()

        class SerialHandler(ChaliceRequestHandler):
            # The Chalice app keeps `current_request` on the app object, so requests must not
            # overlap; connections stay threaded so an idle keep-alive socket blocks nobody.
            def _generic_handle(self) -> None:
                with lock:
                    super()._generic_handle()

        config = Config.create(chalice_stage="dev", app_name="imgshelf", environment_variables={})
        self._server = LocalDevServer(app, config, self.host, self.port, handler_cls=SerialHandler)
        self.port = int(self._server.server.server_address[1])
        os.environ["PUBLIC_BASE_URL"] = self.url
        from chalicelib import bootstrap

        bootstrap.reset()
        self._spawn(self._server.server.serve_forever, "http")

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    # --- background work ----------------------------------------------------------------------
    def _bridge_loop(self) -> None:
        """Hand each S3 notification to the app's S3 event handler, as Lambda would."""
        import boto3

        from app import thumbnails

        sqs = boto3.session.Session().client("sqs")
        while not self._stopping.is_set():
            try:
                reply = sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    AttributeNames=["ApproximateReceiveCount"],
                )
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("could not read the S3 event queue")
                self._stopping.wait(1)
                continue
            for message in reply.get("Messages", []):
                self._deliver(sqs, message, thumbnails)

    def _deliver(self, sqs: Any, message: dict[str, Any], handler: Any) -> None:
        body = json.loads(message["Body"])
        done = True
        if body.get("Records"):  # s3:TestEvent messages carry no records
            try:
                handler({"Records": body["Records"]}, None)
            except Exception:
                attempts = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
                done = attempts >= MAX_EVENT_ATTEMPTS
                log.exception("S3 event handler failed (attempt %d)", attempts)
        if done:
            sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        else:
            sqs.change_message_visibility(
                QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=2
            )

    def _stream_loop(self) -> None:
        """Hand the records table's stream to the statistics function, as Lambda would."""
        import boto3

        from app import statistics

        session = boto3.session.Session()
        arn = self.settings.get("RECORDS_STREAM_ARN", "")
        from botocore.config import Config

        # botocore would address a per-account endpoint derived from the stream ARN
        streams = session.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
        iterators: dict[str, str] = {}
        while not self._stopping.wait(1):
            try:
                for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
                    shard_id = shard["ShardId"]
                    if shard_id not in iterators:
                        # The embedded moto starts empty (restored items are INSERTs, which the
                        # statistics ignore), so read it all; moto's LATEST iterators never advance.
                        kind = "TRIM_HORIZON" if self.embedded else "LATEST"
                        iterators[shard_id] = streams.get_shard_iterator(
                            StreamArn=arn, ShardId=shard_id, ShardIteratorType=kind
                        )["ShardIterator"]
                    reply = streams.get_records(ShardIterator=iterators[shard_id], Limit=100)
                    iterators[shard_id] = reply["NextShardIterator"]
                    if reply.get("Records"):
                        statistics({"Records": _plain_stream_records(reply["Records"])}, None)
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("statistics from the records stream failed")

    def _repair_loop(self) -> None:
        from app import repair_thumbnails

        while not self._stopping.wait(REPAIR_EVERY_SECONDS):
            try:
                repair_thumbnails({}, None)
            except Exception:
                log.exception("thumbnail repair failed")

    def _save_loop(self) -> None:
        while not self._stopping.wait(SAVE_EVERY_SECONDS):
            try:
                self.save()
            except Exception:
                log.exception("periodic save failed")


def _plain_stream_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Stream records as Lambda delivers them: creation time in epoch seconds, not a datetime."""
    plain = []
    for record in records:
        change = dict(record.get("dynamodb", {}))
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):
            change["ApproximateCreationDateTime"] = created.timestamp()
        plain.append({**record, "dynamodb": change})
    return plain


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    logging.getLogger("botocore").setLevel(logging.WARNING)
    stack = LocalStack(
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        data_dir=Path(os.environ.get("DATA_DIR", ".local")),
        endpoint=os.environ.get("AWS_ENDPOINT_URL") or None,
        api_key=os.environ.get("LOCAL_API_KEY") or None,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stack.start()
    print(f"imgshelf is running at {stack.url}", flush=True)
    print(f"API key: {stack.api_key}", flush=True)
    print(f"try: curl -i '{stack.url}/2/credits.json?key={stack.api_key}'", flush=True)
    if stack.embedded:
        print(
            f"(embedded moto on {stack.endpoint}; data kept in {stack.data_dir}; Ctrl-C to stop)", flush=True
        )
    else:
        print(f"(AWS endpoint {stack.endpoint}; Ctrl-C to stop)", flush=True)
    while not stop.wait(0.5):
        pass
    print("stopping: saving data", flush=True)
    stack.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
