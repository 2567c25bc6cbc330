"""HTTP routes of the sessions service, mounted by the gateway at /api/sessions.

Access token: a JWT (sub, role, tier, sid, iat, exp) in the response body and in the HttpOnly
cookie mbt_access; refresh token: opaque, rotating, only in the HttpOnly cookie mbt_refresh
(path /api/sessions). Every signed-in route re-checks the session in the database, so a
revocation takes effect on the next request.
"""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from . import tokens
from .db import Database
from .errors import (
    ApiError,
    api_error_handler,
    http_error_handler,
    unexpected_error_handler,
    validation_handler,
)
from .passwords import Passwords, check_policy
from .settings import Settings

ACCESS_COOKIE, REFRESH_COOKIE = "mbt_access", "mbt_refresh"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# text without NUL characters (PostgreSQL text cannot hold them)
Text = Annotated[StrictStr, Field(max_length=1024, pattern=r"^[^\x00]*$")]


class Credentials(Strict):
    email: Text = Field(description="Your e-mail address (at most 254 characters).")
    password: Text = Field(description="10 to 256 characters.")


class PasswordChange(Strict):
    current_password: Text
    new_password: Text


class PasswordConfirmation(Strict):
    password: Text = Field(description="Your current password, to confirm.")


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = Settings.from_env()
    app.state.settings = settings
    app.state.db = Database(settings.dsn)
    app.state.passwords = Passwords(settings.argon2_time_cost, settings.argon2_memory_kib)
    await app.state.db.open()
    yield
    await app.state.db.close()


app = FastAPI(
    title="MBT sessions", version="1", lifespan=lifespan,
    docs_url="/api/sessions/docs", openapi_url="/api/sessions/openapi.json", redoc_url=None,
)
router = APIRouter(prefix="/api/sessions")
app.add_exception_handler(ApiError, api_error_handler)
app.add_exception_handler(RequestValidationError, validation_handler)
app.add_exception_handler(StarletteHTTPException, http_error_handler)
app.add_exception_handler(Exception, unexpected_error_handler)


def db(request: Request) -> Database:
    return request.app.state.db


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def client_ip(request: Request) -> str | None:
    return request.headers.get("x-real-ip") or (request.client.host if request.client else None)


def require_json(content_type: Annotated[str | None, Header()] = None) -> None:
    if not content_type or content_type.split(";")[0].strip().lower() != "application/json":
        raise ApiError("MBV07", "The request body must be JSON.", f"Content-Type: {content_type}",
                       "Send the header 'Content-Type: application/json'.")


async def current_session(request: Request) -> tokens.Claims:
    """The caller's verified access token, whose session is still active."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else request.cookies.get(ACCESS_COOKIE)
    if not token:
        raise ApiError("MBA08", "You are not logged in.", None,
                       "Send 'Authorization: Bearer <access_token>' from POST /api/sessions/login.")
    claims = tokens.verify_access_token(settings_of(request).jwt_secret, token)
    row = await db(request).one("select auth.session_is_active(%s, %s) as active", [claims.user_id, claims.session_id])
    if not row["active"]:
        raise ApiError("MBA05", "Your session has ended.", "The session was revoked or has expired.",
                       "Log in again (POST /api/sessions/login).")
    return claims


Session = Annotated[tokens.Claims, Depends(current_session)]


def set_session_cookies(response: Response, settings: Settings, access: str, refresh: tokens.RefreshToken) -> None:
    common = {"httponly": True, "secure": settings.cookie_secure, "samesite": "strict"}
    response.set_cookie(ACCESS_COOKIE, access, max_age=settings.access_token_seconds, path="/api", **common)
    response.set_cookie(REFRESH_COOKIE, str(refresh), max_age=settings.session_days * 86400,
                        path="/api/sessions", **common)


def clear_session_cookies(response: Response, settings: Settings) -> None:
    common = {"httponly": True, "secure": settings.cookie_secure, "samesite": "strict"}
    response.delete_cookie(ACCESS_COOKIE, path="/api", **common)
    response.delete_cookie(REFRESH_COOKIE, path="/api/sessions", **common)


def session_body(settings: Settings, access: str, user: dict, session_id: uuid.UUID, expires_at) -> dict:
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": settings.access_token_seconds,
        "user": user,
        "session": {"id": str(session_id), "expires_at": expires_at.isoformat()},
    }


async def issue(request: Request, response: Response, row: dict, email: str) -> dict:
    """Access token + cookies for a freshly opened session row (user_id, session_id, tier, expires_at)."""
    settings = settings_of(request)
    access = tokens.issue_access_token(settings.jwt_secret, row["user_id"], row["session_id"], row["tier"],
                                       settings.access_token_seconds)
    set_session_cookies(response, settings, access, request.state.refresh)
    user = {"id": str(row["user_id"]), "email": email, "tier": row["tier"]}
    return session_body(settings, access, user, row["session_id"], row["expires_at"])


def lifetime(request: Request) -> timedelta:
    return timedelta(days=settings_of(request).session_days)


@router.get("/health", summary="Liveness: the service and its database answer")
async def health(request: Request) -> dict:
    await db(request).one("select 1")
    return {"status": "ok"}


@router.post("/signup", status_code=201, dependencies=[Depends(require_json)],
          summary="Create a user and their paper account ($100,000.00) and log in")
async def sign_up(body: Credentials, request: Request, response: Response) -> dict:
    check_policy(body.password, body.email)
    password_hash = await request.app.state.passwords.hash(body.password)
    secret = tokens.new_secret()
    row = await db(request).one(
        "select * from auth.sign_up(%s, %s, %s, %s, %s, %s)",
        [body.email, password_hash, tokens.digest(secret), lifetime(request),
         request.headers.get("user-agent"), client_ip(request)],
    )
    request.state.refresh = tokens.RefreshToken(row["user_id"], row["session_id"], secret)
    result = await issue(request, response, row, body.email.strip().lower())
    result["account_id"] = str(row["account_id"])
    return result


@router.post("/login", dependencies=[Depends(require_json)], summary="Log in with e-mail and password")
async def log_in(body: Credentials, request: Request, response: Response) -> dict:
    candidate = await check_password(request, body.email, body.password, wrong=ApiError(
        "MBA01", "The e-mail or the password is wrong.", None,
        "Check both; after 5 failures in 15 minutes log-in is paused for a while."))
    database, passwords = db(request), request.app.state.passwords
    if passwords.needs_rehash(candidate["password_hash"]):
        await database.one("select auth.rehash_password(%s, %s)",
                           [candidate["user_id"], await passwords.hash(body.password)])
    secret = tokens.new_secret()
    row = await database.one(
        "select * from auth.open_session(%s, %s, %s, %s, %s)",
        [candidate["user_id"], tokens.digest(secret), lifetime(request), request.headers.get("user-agent"),
         client_ip(request)],
    )
    request.state.refresh = tokens.RefreshToken(row["user_id"], row["session_id"], secret)
    return await issue(request, response, row, body.email.strip().lower())


async def check_password(request: Request, email: str, password: str, wrong: ApiError) -> dict:
    """Every password check: counted and throttled in the database before the slow hash runs
    (auth.begin_login), its outcome recorded after (auth.end_login)."""
    database = db(request)
    candidate = await database.one("select * from auth.begin_login(%s)", [email])
    if candidate["retry_after_seconds"] > 0:
        raise throttled(candidate["retry_after_seconds"])
    ok = await request.app.state.passwords.verify(candidate["password_hash"], password)
    wait = (await database.one("select auth.end_login(%s, %s) as wait", [email, ok]))["wait"]
    if not ok:
        raise throttled(wait) if wait > 0 else wrong
    return candidate


def throttled(seconds: int) -> ApiError:
    return ApiError("MBA04", "Too many failed log-ins for this e-mail.", f"retry_after_seconds = {seconds}",
                    f"Wait {seconds} s before trying again.", headers={"Retry-After": str(seconds)})


@router.post("/refresh", summary="Exchange the refresh cookie for a new access token (the cookie rotates)")
async def refresh(request: Request, response: Response) -> dict:
    value = request.cookies.get(REFRESH_COOKIE)
    if not value:
        raise ApiError("MBA06", "Your session cannot be refreshed.", "No refresh cookie was sent.",
                       "Log in again (POST /api/sessions/login).")
    presented = tokens.RefreshToken.parse(value)
    successor = tokens.RefreshToken.new(presented.user_id, presented.session_id)
    row = await db(request).one(
        "select * from auth.rotate_refresh_token(%s, %s, %s, %s)",
        [presented.user_id, presented.session_id, presented.digest, successor.digest],
    )
    if row["outcome"] == "reused":
        clear_session_cookies(response, settings_of(request))
        raise ApiError("MBA07", "This refresh token was already used, so the session has been closed.",
                       "A used refresh token came back: it may have been copied. Every token of the session "
                       "is now revoked.", "Log in again; if this was not you, change your password.")
    if row["outcome"] != "rotated":
        raise ApiError("MBA06", "Your session cannot be refreshed.", "The session was revoked or has expired.",
                       "Log in again (POST /api/sessions/login).")
    request.state.refresh = successor
    profile = await db(request).one("select email from auth.user_profile(%s)", [presented.user_id])
    return await issue(request, response, {"user_id": presented.user_id, "session_id": presented.session_id,
                                           "tier": row["tier"], "expires_at": row["expires_at"]}, profile["email"])


@router.post("/logout", status_code=204, summary="Log out: revoke this session and clear the cookies")
async def log_out(request: Request, response: Response) -> Response:
    """Works with the access token, or with the refresh cookie alone once the access token expired."""
    try:
        session = await current_session(request)
        user_id, session_id = session.user_id, session.session_id
    except ApiError:
        cookie = request.cookies.get(REFRESH_COOKIE)
        if not cookie:
            raise
        presented = tokens.RefreshToken.parse(cookie)
        owner = await db(request).one(
            "select auth.refresh_token_is_current(%s, %s, %s) as ok",
            [presented.user_id, presented.session_id, presented.digest])
        if not owner["ok"]:
            raise
        user_id, session_id = presented.user_id, presented.session_id
    await db(request).one("select auth.revoke_session(%s, %s, 'logout')", [user_id, session_id])
    clear_session_cookies(response, settings_of(request))
    response.status_code = 204
    return response


@router.get("", summary="List my active sessions (signed-in devices)")
async def list_sessions(session: Session, request: Request) -> list[dict]:
    rows = await db(request).all("select * from auth.list_sessions(%s)", [session.user_id])
    return [{
        "id": str(r["session_id"]), "created_at": r["created_at"].isoformat(),
        "refreshed_at": r["refreshed_at"].isoformat() if r["refreshed_at"] else None,
        "expires_at": r["expires_at"].isoformat(), "user_agent": r["user_agent"],
        "ip": str(r["ip"]) if r["ip"] else None, "current": r["session_id"] == session.session_id,
    } for r in rows]


@router.get("/me", summary="Who am I: id, e-mail and tier")
async def me(session: Session, request: Request) -> dict:
    row = await db(request).one("select * from auth.user_profile(%s)", [session.user_id])
    return {"id": str(row["user_id"]), "email": row["email"], "tier": row["tier"],
            "created_at": row["created_at"].isoformat()}


async def confirm_password(request: Request, session: tokens.Claims, password: str) -> dict:
    row = await db(request).one("select * from auth.user_profile(%s)", [session.user_id])
    await check_password(request, row["email"], password, wrong=ApiError(
        "MBA09", "The password is wrong.", None, "Enter your current password to confirm."))
    return row


@router.post("/password", dependencies=[Depends(require_json)],
          summary="Change my password; signs out every other session")
async def change_password(body: PasswordChange, session: Session, request: Request) -> dict:
    row = await confirm_password(request, session, body.current_password)
    check_policy(body.new_password, row["email"])
    new_hash = await request.app.state.passwords.hash(body.new_password)
    revoked = await db(request).one("select auth.change_password(%s, %s, %s) as n",
                                    [session.user_id, session.session_id, new_hash])
    return {"revoked_sessions": revoked["n"]}


@router.delete("/me", status_code=204, dependencies=[Depends(require_json)],
            summary="Delete my user, my account and all my data (password required)")
async def erase_me(body: PasswordConfirmation, session: Session, request: Request, response: Response) -> Response:
    await confirm_password(request, session, body.password)
    await db(request).one("select auth.erase_user(%s)", [session.user_id])
    clear_session_cookies(response, settings_of(request))
    response.status_code = 204
    return response


@router.delete("/{session_id}", status_code=204, summary="Revoke one of my sessions (sign out a device)")
async def revoke(session_id: uuid.UUID, session: Session, request: Request, response: Response) -> Response:
    row = await db(request).one("select auth.revoke_session(%s, %s, 'revoked_by_user') as revoked",
                                [session.user_id, session_id])
    if not row or not row["revoked"]:
        raise ApiError("MBA10", "You have no active session with that id.", f"session_id = {session_id}",
                       "List your sessions with GET /api/sessions.")
    response.status_code = 204
    return response


app.include_router(router)
