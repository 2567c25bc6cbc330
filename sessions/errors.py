"""Errors in MBT's one shape, {code, message, details, hint}, with codes from mbt.error_catalogue()."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

logger = logging.getLogger("sessions")

# code -> HTTP status; loaded from mbt.error_catalogue() at start-up (the database is the source)
CATALOGUE: dict[str, int] = {}


class ApiError(Exception):
    def __init__(self, code: str, message: str, details: str | None = None, hint: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.code, self.message, self.details, self.hint = code, message, details, hint
        self.headers = headers or {}

    @property
    def status(self) -> int:
        return CATALOGUE.get(self.code, 400)

    def response(self) -> JSONResponse:
        body = {"code": self.code, "message": self.message, "details": self.details, "hint": self.hint}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p != "body"]
    return ".".join(parts) or "body"


def from_validation(exc: RequestValidationError) -> ApiError:
    """Map the first pydantic error of a request body to one of our codes."""
    err = exc.errors()[0]
    kind, field = err.get("type", ""), _field(tuple(err.get("loc", ())))
    if kind == "json_invalid":
        return ApiError("MBV01", "The request body is not valid JSON.", err.get("msg"),
                        "Send a JSON object, e.g. {\"email\": \"you@example.com\", \"password\": \"...\"}.")
    if kind == "missing":
        return ApiError("MBV04", f"The field '{field}' is required.", None, f"Add '{field}' to the JSON body.")
    if kind == "extra_forbidden":
        return ApiError("MBV05", f"Unknown field '{field}'.", None, "Remove the field; see the API documentation.")
    return ApiError("MBV03", f"The field '{field}' is invalid: {err.get('msg', '').lower()}.",
                    f"{field}: {err.get('msg')}", "Check the field's type and value.")


async def api_error_handler(_: Request, exc: ApiError) -> JSONResponse:
    return exc.response()


async def validation_handler(_: Request, exc: RequestValidationError) -> JSONResponse:
    return from_validation(exc).response()


async def unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return ApiError("MBS02", "Something went wrong on our side; nothing was changed.", None,
                    "Try again; if it keeps happening, tell us the time of the request.").response()


async def http_error_handler(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 405:
        return ApiError("MBN02", f"{request.method} is not allowed on {request.url.path}.", None,
                        f"Allowed: {exc.headers.get('Allow', '') if exc.headers else ''}").response()
    if exc.status_code == 404:
        return ApiError("MBN01", f"There is nothing at {request.url.path}.", None,
                        "See GET /api/sessions/docs for the sessions API.").response()
    if exc.status_code == 413:
        return ApiError("MBV02", "The request body is too large.", None, "Send a smaller JSON body.").response()
    return ApiError("MBV01", "The request body cannot be read.", str(exc.detail),
                    "Send a JSON object encoded in UTF-8.").response()
