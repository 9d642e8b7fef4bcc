"""The Chalice app: registers the route blueprints and the event handlers; nothing else.

Every Lambda function of the app imports this module, so it imports nothing heavy: Pillow,
pypdfium2, Jinja2 and friends are imported where they are used.
"""

from __future__ import annotations

import logging
import os

from chalice import Chalice, Rate

from chalicelib.auth import identify
from chalicelib.routes import api_account, api_v2, media, oauth, v2, web

app = Chalice(app_name="imgshelf")
app.log.setLevel(logging.INFO)
logging.getLogger("imgshelf").setLevel(logging.INFO)

# API Gateway must base64-encode these request bodies, or binary uploads arrive mangled.
app.api.binary_types.extend(
    [
        "multipart/form-data",
        "image/tiff",
        "image/bmp",
        "image/x-ms-bmp",
        "image/apng",
        "image/webp",
        "image/x-xcf",
        "application/pdf",
    ]
)

# Resource modules declare on v2.api when imported; mount once, after all of them.
assert api_v2.__name__
assert api_account.__name__ and identify.__name__
v2.api.mount()
app.register_blueprint(v2.bp)
app.register_blueprint(oauth.bp)
app.register_blueprint(web.bp)
app.register_blueprint(media.bp)

# Read when Chalice imports the app to deploy it: `make deploy` sets both from the stack outputs.
IMAGES_BUCKET = os.environ.get("IMAGES_BUCKET_NAME", "imgshelf-images")
RECORDS_STREAM = os.environ.get(
    "RECORDS_STREAM_ARN", "arn:aws:dynamodb:us-east-1:000000000000:table/imgshelf-records/stream/local"
)


@app.on_s3_event(bucket=IMAGES_BUCKET, events=["s3:ObjectCreated:*"], prefix="i/")
def thumbnails(event: object) -> None:
    from chalicelib.services import thumbnails as thumbnail_service

    thumbnail_service.handle_s3_event(event)


@app.schedule(Rate(1, unit=Rate.HOURS))
def repair_thumbnails(event: object) -> None:
    from chalicelib.services import thumbnails as thumbnail_service

    thumbnail_service.repair()


@app.on_dynamodb_record(stream_arn=RECORDS_STREAM, batch_size=100)
def statistics(event: object) -> None:
    from chalicelib.services import stats

    stats.aggregate(event)
