"""The S3-triggered thumbnail function, the hourly repair and the statistics (moto)."""

from __future__ import annotations

import io
import json
from typing import Any

import boto3
import pytest

from chalicelib import bootstrap
from chalicelib.services import stats, thumbnails
from tests import images
from tests.api.conftest import stored_keys

SUFFIXES = ("s", "b", "t", "m", "l", "h")


def s3_event(key: str, bucket: str = "bucket", event_name: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {
        "Records": [{"eventName": event_name, "s3": {"bucket": {"name": bucket}, "object": {"key": key}}}]
    }


def thumbnail_size(image_hash: str, suffix: str) -> tuple[int, int]:
    from PIL import Image

    data = bootstrap.image_store().get(f"t/{image_hash}{suffix}.jpg")
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        return image.size


def thumbs_state(api: Any, image_hash: str) -> str:
    image, _ = bootstrap.thumbnail_records().image_or_tombstone(image_hash)
    assert image is not None
    return image.thumbs


def test_new_original_gets_six_thumbnails_through_the_lambda_handler(client, api, aws):
    image = api.upload_ok(images.png((1600, 1000)))["image"]
    event = client.events.generate_s3_event(bucket=aws["IMAGES_BUCKET_NAME"], key=f"i/{image['hash']}.png")
    client.lambda_.invoke("thumbnails", event)
    assert thumbnail_size(image["hash"], "s") == (90, 90)
    assert thumbnail_size(image["hash"], "b") == (160, 160)
    assert thumbnail_size(image["hash"], "t") == (160, 100)
    assert thumbnail_size(image["hash"], "m") == (320, 200)
    assert thumbnail_size(image["hash"], "l") == (640, 400)
    assert thumbnail_size(image["hash"], "h") == (1024, 640)
    assert thumbs_state(api, image["hash"]) == "ready"
    redirect = client.http.get(f"/{image['hash']}s.jpg")
    assert f"t/{image['hash']}s.jpg" in redirect.headers["Location"]


def test_duplicated_event_makes_the_same_objects_and_one_record_update(api, aws_calls):
    image = api.upload_ok(images.jpeg((400, 300)))["image"]
    key = f"i/{image['hash']}.jpg"
    aws_calls.reset()
    assert thumbnails.handle_s3_event(s3_event(key)) == [image["hash"]]
    first = {k: bootstrap.image_store().get(k) for k in stored_keys() if k.startswith("t/")}
    assert thumbnails.handle_s3_event(s3_event(key)) == []
    again = {k: bootstrap.image_store().get(k) for k in stored_keys() if k.startswith("t/")}
    assert first == again and len(first) == 6
    assert aws_calls.calls.count("dynamodb.TransactWriteItems") == 1


def test_reordered_and_duplicated_events_for_several_images(api):
    hashes = [api.upload_ok(images.png((50 + i, 40)))["image"]["hash"] for i in range(3)]
    events = [f"i/{h}.png" for h in reversed(hashes)] + [f"i/{hashes[0]}.png"]
    for key in events:
        thumbnails.handle_s3_event(s3_event(key))
    assert all(thumbs_state(api, h) == "ready" for h in hashes)
    assert len([k for k in stored_keys() if k.startswith("t/")]) == 18


def test_tiny_image_is_never_upscaled(api):
    image = api.upload_ok(images.png((40, 30)))["image"]
    thumbnails.handle_s3_event(s3_event(f"i/{image['hash']}.png"))
    assert thumbnail_size(image["hash"], "h") == (40, 30)
    assert thumbnail_size(image["hash"], "t") == (40, 30)


def test_deleted_image_gets_no_thumbnails(api):
    image = api.upload_ok()["image"]
    api.client.http.delete(f"/2/delete/{image['deletehash']}")
    assert thumbnails.handle_s3_event(s3_event(f"i/{image['hash']}.png")) == []
    assert stored_keys() == []


def test_delete_during_thumbnailing_leaves_nothing(api, aws_calls):
    from chalicelib.services import images as image_service

    image = api.upload_ok(images.png((300, 200)))["image"]
    # the delete lands after the original was read, before the thumbnails are written
    aws_calls.before("s3.PutObject", lambda: image_service.delete(image["deletehash"]))
    assert thumbnails.handle_s3_event(s3_event(f"i/{image['hash']}.png")) == []
    assert stored_keys() == []


def test_poison_image_is_marked_failed_and_acknowledged(api, aws):
    image = api.upload_ok()["image"]
    boto3.client("s3").put_object(
        Bucket=aws["IMAGES_BUCKET_NAME"], Key=f"i/{image['hash']}.png", Body=b"garbage"
    )
    assert thumbnails.handle_s3_event(s3_event(f"i/{image['hash']}.png")) == []
    assert thumbs_state(api, image["hash"]) == "failed"
    assert [k for k in stored_keys() if k.startswith("t/")] == []


def test_transient_aws_error_is_raised_so_lambda_retries(api, aws_calls):
    from botocore.exceptions import ClientError

    image = api.upload_ok()["image"]
    aws_calls.fail("s3.GetObject", "InternalError")
    with pytest.raises(ClientError):
        thumbnails.handle_s3_event(s3_event(f"i/{image['hash']}.png"))
    assert thumbs_state(api, image["hash"]) == "pending"
    assert thumbnails.handle_s3_event(s3_event(f"i/{image['hash']}.png")) == [image["hash"]]  # the retry


def test_object_without_record_yet_is_retried_and_orphan_ignored(aws):
    s3 = boto3.client("s3")
    s3.put_object(Bucket=aws["IMAGES_BUCKET_NAME"], Key="i/Abcdefg.png", Body=images.png())
    with pytest.raises(thumbnails.RecordNotReady):
        thumbnails.handle_s3_event(s3_event("i/Abcdefg.png"))
    s3.delete_object(Bucket=aws["IMAGES_BUCKET_NAME"], Key="i/Abcdefg.png")
    assert thumbnails.handle_s3_event(s3_event("i/Abcdefg.png")) == []


@pytest.mark.parametrize(
    "event",
    [
        {"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"},
        {"Records": []},
        s3_event("t/Abcdefgs.jpg"),
        s3_event("i/with+space%2Bplus.png"),
        s3_event("i/../escape.png"),
        s3_event("i/Abcdefg.png", event_name="ObjectRemoved:Delete"),
    ],
    ids=["test-event", "empty", "thumbnail-key", "encoded-spaces-and-plus", "traversal", "removed"],
)
def test_events_that_are_not_new_originals_are_ignored(aws, aws_calls, event):
    assert thumbnails.handle_s3_event(event) == []
    assert aws_calls.calls == []


def test_url_encoded_key_is_decoded(api):
    image = api.upload_ok()["image"]
    assert thumbnails.handle_s3_event(s3_event(f"i%2F{image['hash']}.png")) == [image["hash"]]


def test_repair_makes_thumbnails_whose_event_was_lost(api, clock):
    image = api.upload_ok()["image"]
    assert thumbnails.repair() == []  # too recent: its event may still arrive
    clock.advance(10 * 60)
    assert thumbnails.repair() == [image["hash"]]
    assert thumbs_state(api, image["hash"]) == "ready"
    assert thumbnails.repair() == []


def test_repair_reads_by_query_never_scan(api, clock, aws_calls):
    api.upload_ok()
    clock.advance(10 * 60)
    aws_calls.reset()
    thumbnails.repair()
    assert "dynamodb.Scan" not in aws_calls.calls
    assert aws_calls.count("dynamodb.Query") == 48 * 8


# --- statistics -----------------------------------------------------------------------------------
def stream_records(table: str, at: float) -> list[dict[str, Any]]:
    """The table's stream as Lambda would deliver it, dated `at` (the tests' clock, not the wall's)."""
    ddb = boto3.client("dynamodb")
    from botocore.config import Config

    # botocore would address a per-account endpoint (derived from the ARN) that moto does not serve
    streams = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    found = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )
        found += streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    for record in found:
        record["dynamodb"]["ApproximateCreationDateTime"] = at
    return found


def test_stats_count_uploads_views_and_popular_images(api, aws, clock):
    clock.now = 1_800_000_000  # inside one day, away from midnight
    first = api.upload_ok(images.png((100, 100)))["image"]
    second = api.upload_ok(images.png((50, 50)))["image"]
    for image in (first, second):
        thumbnails.handle_s3_event(s3_event(f"i/{image['hash']}.png"))
    for _ in range(3):
        api.client.http.get(f"/{second['hash']}.png")
    api.client.http.get(f"/{first['hash']}.png")
    assert stats.aggregate({"Records": stream_records(aws["RECORDS_TABLE_NAME"], clock.now)}) == 4

    for view in ("today", "week", "month"):
        body = json.loads(api.client.http.get(f"/2/stats.json?view={view}").body)["stats"]
        assert body["images_uploaded"] == 2
        assert body["images_veiwed"] == 4
        assert body["most_popular_images"][:2] == [second["hash"], first["hash"]]
        assert body["bandwidth_used"].endswith(("B", "KB"))
        assert body["average_image_size"] == stats.human_size((first["size"] + second["size"]) / 2)


def test_stats_windows_and_bad_view(api, aws, clock):
    clock.now = 1_800_000_000
    api.upload_ok()
    stats.aggregate({"Records": stream_records(aws["RECORDS_TABLE_NAME"], clock.now)})
    clock.advance(3 * 86400)
    today = json.loads(api.client.http.get("/2/stats.json?view=today").body)["stats"]
    week = json.loads(api.client.http.get("/2/stats.json?view=week").body)["stats"]
    assert (today["images_uploaded"], week["images_uploaded"]) == (0, 1)
    assert api.client.http.get("/2/stats.json?view=year").status_code == 400
    assert api.client.http.get("/2/stats").body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<stats>')


def test_stats_read_is_one_batch_get(api, aws_calls):
    api.client.http.get(f"/2/stats.json?key={api.key}")
    aws_calls.reset()
    api.client.http.get(f"/2/stats.json?key={api.key}&view=month")
    assert aws_calls.calls == ["dynamodb.UpdateItem", "dynamodb.BatchGetItem"]


def test_space_saving_keeps_heavy_hitters():
    top: dict[str, int] = {}
    for round_ in range(20):
        top = stats.space_saving(top, {"hot": 50, **{f"cold{round_}-{i}": 1 for i in range(30)}}, size=10)
    assert max(top, key=top.__getitem__) == "hot"
    assert len(top) == 10


def test_human_sizes():
    assert stats.human_size(0) == "0.00 B"
    assert stats.human_size(41718) == "40.74 KB"
    assert stats.human_size(5_035_763_113_000) == "4.58 TB"


def test_a_stream_batch_is_counted_once_even_when_redelivered_after_a_failure(api, aws, aws_calls, clock):
    clock.now = 1_800_000_000
    image = api.upload_ok()["image"]
    api.client.http.get(f"/{image['hash']}.png")
    batch = {"Records": stream_records(aws["RECORDS_TABLE_NAME"], clock.now)}
    yesterday = {"Records": stream_records(aws["RECORDS_TABLE_NAME"], clock.now - 86400)}
    two_days = {"Records": batch["Records"] + yesterday["Records"]}
    aws_calls.fail("dynamodb.TransactWriteItems", "InternalServerError")
    with pytest.raises(Exception):
        stats.aggregate(two_days)  # nothing of the batch is written...
    assert stats.aggregate(two_days) == 2  # ...so the stream's retry counts each day once
    today = json.loads(api.client.http.get("/2/stats.json?view=today").body)["stats"]
    week = json.loads(api.client.http.get("/2/stats.json?view=week").body)["stats"]
    assert (today["images_uploaded"], today["images_veiwed"]) == (1, 1)
    assert (week["images_uploaded"], week["images_veiwed"]) == (2, 2)
