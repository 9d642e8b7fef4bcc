"""S3: originals under i/, thumbnails under t/, and short-lived presigned links to them."""

from __future__ import annotations

from typing import Any

from chalicelib.records import Collision, error_code

THUMBNAIL_SUFFIXES = ("s", "b", "t", "m", "l", "h")
PRESIGNED_SECONDS = 600


class StorageError(Exception):
    """S3 refused part of a request that raised no error of its own."""


def original_key(image_hash: str, ext: str) -> str:
    return f"i/{image_hash}.{ext}"


def thumbnail_key(image_hash: str, suffix: str) -> str:
    return f"t/{image_hash}{suffix}.jpg"


class S3ImageStore:
    """The images bucket."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self.bucket = bucket

    def put_original(self, image_hash: str, ext: str, data: bytes, mime: str) -> None:
        """Write a new original; Collision if the key exists (never overwrite another image)."""
        try:
            self._client.put_object(
                Bucket=self.bucket,
                Key=original_key(image_hash, ext),
                Body=data,
                ContentType=mime,
                CacheControl="public, max-age=31536000, immutable",
                IfNoneMatch="*",
            )
        except Exception as error:
            if error_code(error) in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise Collision() from error
            raise

    def get(self, key: str) -> bytes:
        return bytes(self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def put_thumbnail(self, image_hash: str, suffix: str, data: bytes) -> None:
        self._client.put_object(
            Bucket=self.bucket,
            Key=thumbnail_key(image_hash, suffix),
            Body=data,
            ContentType="image/jpeg",
            CacheControl="public, max-age=31536000, immutable",
        )

    def delete_image(self, image_hash: str, ext: str) -> None:
        """The original and every thumbnail, in one request."""
        keys = [original_key(image_hash, ext)] + [thumbnail_key(image_hash, s) for s in THUMBNAIL_SUFFIXES]
        reply = self._client.delete_objects(
            Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
        )
        if reply.get("Errors"):  # per-key failures come back in a 200 reply, not as an exception
            failed = ", ".join(f"{e.get('Key')}: {e.get('Code')}" for e in reply["Errors"])
            raise StorageError(f"could not delete {failed}")

    def delete_original(self, image_hash: str, ext: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=original_key(image_hash, ext))

    def presigned_url(self, key: str) -> str:
        """A link valid for a few minutes; signing is local, no request is made."""
        return str(
            self._client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=PRESIGNED_SECONDS
            )
        )
