"""The project's error hierarchy: each class knows its HTTP status and its v2 message."""

from __future__ import annotations


class ImgshelfError(Exception):
    """Base of every error the API turns into a v2 error envelope."""

    status = 500
    message = "A fatal error occured. We have been notified of this error."

    def __init__(self, message: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message or self.message)
        if message is not None:
            self.message = message
        self.headers: dict[str, str] = dict(headers or {})


class BadRequest(ImgshelfError):
    status = 400
    message = "Invalid request"


class MissingParameter(BadRequest):
    def __init__(self, name: str) -> None:
        super().__init__(f"No {name} was provided")


class UnsupportedFileType(BadRequest):
    message = "That file type is not supported!"


class InvalidImage(BadRequest):
    message = "Image is corrupt or could not be read"


class Unauthorized(ImgshelfError):
    status = 401
    message = "Authentication required"


class InvalidKey(Unauthorized):
    message = "Invalid API key"


class Forbidden(ImgshelfError):
    status = 403
    message = "Permission denied"


class LimitExceeded(Forbidden):
    message = "API limits exceeded"


class NotFound(ImgshelfError):
    status = 404
    message = "Not found"


class MethodNotAllowed(ImgshelfError):
    status = 405
    message = "Method not allowed"


class PayloadTooLarge(ImgshelfError):
    status = 413
    message = "File is over the size limit"


class ServiceUnavailable(ImgshelfError):
    """A backend is throttling; the caller should retry after a pause."""

    status = 503
    message = "The service is busy, please retry shortly"


class UploadFailed(ImgshelfError):
    message = "Upload failed during the copy process. We have been notifed of this error."


class ConfigError(Exception):
    """A setting has a bad value; raised at first use, naming the variable."""
