"""The gateway in front of PostgREST: every /api/ path goes through its checks (JWT, rate limit), it
reuses kept-alive connections to PostgREST without ever failing a request on one PostgREST has closed,
and it lets as many requests through to PostgREST at once as PostgREST has connections, the others
waiting their turn in order."""

import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import jwt
import pytest

from conftest import another_gateway, assert_error, free_port
from mbtctl import services

WARP_IDLE_TIMEOUT_SECONDS = 30  # PostgREST 12's HTTP server (warp) closes idle connections after 30 to 60 s


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/account"),
    ("GET", "/api/orders"),
    ("GET", "/api/rpc/ping"),
    ("POST", "/api/rpc/ping"),
])
def test_a_forged_token_is_refused_by_the_gateway_on_every_api_path(api, user, method, path):
    claims = jwt.decode(user.token, options={"verify_signature": False})
    forged = jwt.encode(claims, "x" * 48, algorithm="HS256")
    response = api.request(method, path, headers={"Authorization": f"Bearer {forged}"},
                           json={} if method == "POST" else None)
    assert_error(response, 401, "MBA08")  # the gateway's code: PostgREST would answer PGRST301


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/orders"), ("POST", "/api/rpc/ping")])
def test_every_api_path_counts_against_the_callers_budget(api, user, method, path):
    first = api.get("/api/account", headers=user.auth)
    second = api.request(method, path, headers=user.auth, json={} if method == "POST" else None)
    assert second.status_code == 200, second.text
    assert int(second.headers["X-RateLimit-Remaining"]) == int(first.headers["X-RateLimit-Remaining"]) - 1


def responses_on_one_connection(cfg, raw: bytes, count: int) -> list[int]:
    """Send raw (pipelined requests) on one fresh connection; the status of each of the count answers."""
    with socket.create_connection(("127.0.0.1", cfg.http_port), timeout=10) as sock:
        sock.sendall(raw)
        data = b""
        while len(re.findall(rb"^HTTP/1\.1 \d{3}", data, re.MULTILINE)) < count:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return [int(m) for m in re.findall(rb"^HTTP/1\.1 (\d{3})", data, re.MULTILINE)]


@pytest.mark.parametrize("first", ["HEAD /api/orders", "GET /api/account"])
def test_a_post_right_after_a_read_on_the_same_connection_succeeds(cfg, user, first):
    # PostgREST closes its connection right after answering a HEAD (without saying so), and after any
    # request that asks it to; had nginx pooled such a connection, the POST next in line would go out on
    # it and fail (nginx retries only reads). Twenty pairs, each on a new client connection: with the HEAD
    # pooled, or /api/account sent with Connection: close (nginx's default), a fifth to a half failed.
    auth = f"Authorization: Bearer {user.token}\r\n".encode()
    pair = (first.encode() + b" HTTP/1.1\r\nHost: gateway\r\n" + auth + b"\r\n"
            b"POST /api/rpc/ping HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\n" + auth + b"\r\n{}")
    assert [responses_on_one_connection(cfg, pair, 2) for _ in range(20)] == [[200, 200]] * 20


def test_the_gateway_drops_idle_postgrest_connections_before_postgrest_does(cfg):
    conf = services.render_gateway_conf(cfg)
    upstream = re.search(r"upstream postgrest \{(.*?)\}", conf, re.DOTALL)[1]
    assert re.search(r"^\s*keepalive \d+;", upstream, re.MULTILINE), upstream
    timeout = re.search(r"keepalive_timeout (\d+)s;", upstream)
    assert timeout and int(timeout[1]) < WARP_IDLE_TIMEOUT_SECONDS, upstream


# --- the queue for PostgREST: a turn per PostgREST connection, first come first served ----------------


@pytest.fixture
def one_turn_gateway(cfg):
    """A second gateway in front of the same services that lets one request at a time through to PostgREST."""
    with another_gateway(cfg, postgrest_slots=1) as second:
        yield second


def test_requests_beyond_the_turns_at_postgrest_wait_for_one_and_all_succeed(one_turn_gateway, user):
    # 16 requests at once through one turn: each waits for the one before it, none is refused or lost
    def get_account(_):
        with httpx.Client(base_url=one_turn_gateway.base_url, timeout=30) as client:
            return client.get("/api/account", headers=user.auth).status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert list(pool.map(get_account, range(16))) == [200] * 16


def test_a_client_slow_to_send_its_body_holds_no_turn(one_turn_gateway, user):
    # headers of a POST with its 2-byte body held back: the gateway reads the body before taking the turn,
    # so the only turn stays free for others meanwhile
    with socket.create_connection(("127.0.0.1", one_turn_gateway.http_port), timeout=10) as slow:
        slow.sendall(b"POST /api/rpc/ping HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 2\r\nAuthorization: Bearer " + user.token.encode() + b"\r\n\r\n")
        time.sleep(0.2)
        started = time.monotonic()
        with httpx.Client(base_url=one_turn_gateway.base_url, timeout=10) as client:
            assert client.get("/api/account", headers=user.auth).status_code == 200
        assert time.monotonic() - started < 5  # a held turn would have made it wait 10 s, then 503
        slow.sendall(b"{}")
        assert slow.recv(65536).startswith(b"HTTP/1.1 200")


def test_a_turn_comes_back_when_postgrest_cannot_be_reached(cfg, user):
    # nothing listens on PostgREST's port: each request ends on the error page (503 MBS01 at once), and
    # gives its turn back there; one lost turn would make the next request wait 10 s for a turn instead
    with (another_gateway(cfg, postgrest_port=free_port(), postgrest_slots=1) as unreachable,
          httpx.Client(base_url=unreachable.base_url, timeout=30) as client):
        for _ in range(3):
            started = time.monotonic()
            body = assert_error(client.get("/api/account", headers=user.auth), 503, "MBS01")
            assert body["message"] == "The service is not available right now."
            assert time.monotonic() - started < 5


def test_an_oversized_body_is_413_and_leaves_the_turns_free(one_turn_gateway, user):
    # the gateway reads the body before it takes a turn: over 16 KiB it is refused (413 MBV02), no turn taken
    with httpx.Client(base_url=one_turn_gateway.base_url, timeout=30) as client:
        for _ in range(3):
            response = client.post("/api/rpc/submit_order", headers=user.auth, json={"symbol": "A" * 20_000})
            assert_error(response, 413, "MBV02")
        started = time.monotonic()
        assert client.get("/api/account", headers=user.auth).status_code == 200
        assert time.monotonic() - started < 5
