"""Alpaca stream protocol details with a raw WebSocket client: encodings, error codes, test hooks."""

from __future__ import annotations

import json

import msgpack
import pytest
from simhelpers import KEY, SECRET, RawClient, manual_server, subscribed, wait_for
from websockets.exceptions import ConnectionClosed


@pytest.fixture(scope="module")
def srv():
    server = manual_server(symbol_limit=3)
    yield server
    server.stop()


@pytest.fixture
def limited():
    server = manual_server()
    server.app.state.config.max_connections = 1
    yield server
    server.stop()


def connected(srv, path: str = "/v2/iex", use_msgpack: bool = True) -> RawClient:
    client = RawClient(srv.ws_url + path, use_msgpack)
    assert client.recv() == [{"T": "success", "msg": "connected"}]
    return client


def test_stock_stream_speaks_json_when_the_client_did_not_ask_for_msgpack(srv):
    client = connected(srv, use_msgpack=False)
    assert client.auth() == [{"T": "success", "msg": "authenticated"}]
    client.send({"action": "subscribe", "quotes": ["AAPL"]})
    ack = client.recv()
    assert ack[0]["T"] == "subscription" and ack[0]["quotes"] == ["AAPL"]
    srv.clock.advance(2)
    frame = client.recv_raw()
    assert isinstance(frame, str)
    quote = json.loads(frame)[0]
    assert quote["T"] == "q" and quote["S"] == "AAPL" and quote["t"].endswith("Z") and len(quote["t"]) == 30
    client.close()


def test_msgpack_quote_timestamps_are_msgpack_timestamp_extensions(srv):
    client = connected(srv)
    client.auth()
    client.send({"action": "subscribe", "quotes": ["SPY"]})
    client.recv()
    srv.clock.advance(2)
    quote = client.recv()[0]
    assert isinstance(quote["t"], msgpack.Timestamp)
    assert set(quote) == {"T", "S", "bx", "bp", "bs", "ax", "ap", "as", "c", "z", "t"}
    client.close()


def test_subscription_reply_lists_every_channel_in_full(srv):
    client = connected(srv)
    client.auth()
    client.send({"action": "subscribe", "quotes": ["AAPL"], "trades": ["MSFT"]})
    client.recv()
    client.send({"action": "subscribe", "quotes": ["SPY"], "bars": ["*"]})
    ack = client.recv()[0]
    assert ack["quotes"] == ["AAPL", "SPY"] and ack["trades"] == ["MSFT"] and ack["bars"] == ["*"]
    client.send({"action": "unsubscribe", "quotes": ["AAPL"]})
    assert client.recv()[0]["quotes"] == ["SPY"]
    client.close()


@pytest.mark.parametrize(("messages", "code"), [
    ([{"action": "subscribe", "quotes": ["AAPL"]}], 401),
    ([{"action": "auth", "key": KEY, "secret": SECRET}, {"action": "auth", "key": KEY, "secret": SECRET}], 403),
    ([{"action": "auth", "key": KEY, "secret": SECRET}, {"action": "subscribe", "quotes": "AAPL"}], 410),
    ([{"action": "auth", "key": KEY, "secret": SECRET}, {"action": "subscribe", "quotes": ["A", "B", "C", "D"]}],
     405),
    ([{"no_action": 1}], 400),
], ids=["not-authenticated", "already-authenticated", "invalid-subscribe", "symbol-limit", "invalid-syntax"])
def test_protocol_violations_get_alpaca_error_codes(srv, messages, code):
    client = connected(srv)
    reply = None
    for m in messages:
        client.send(m)
        reply = client.recv()
    assert reply == [{"T": "error", "code": code, "msg": reply[0]["msg"]}]
    client.close()


def test_undecodable_frame_gets_error_400(srv):
    client = connected(srv)
    client.send_raw(b"\xc1\xc1 not msgpack")
    assert client.recv()[0]["code"] == 400
    client.close()


def test_wrong_credentials_get_error_402_and_the_connection_closes(srv):
    client = connected(srv)
    assert client.auth(KEY, "nope") == [{"T": "error", "code": 402, "msg": "auth failed"}]
    with pytest.raises(ConnectionClosed):
        client.recv()


def test_connection_over_the_limit_gets_error_406(limited):
    first = connected(limited)
    first.auth()
    second = connected(limited)
    assert second.auth()[0]["code"] == 406
    other_key = connected(limited)
    assert other_key.auth("k2", "s2")[0]["msg"] == "authenticated"
    first.close()
    other_key.close()


def test_auth_timeout_gets_error_404():
    server = manual_server(auth_timeout=0.2)
    try:
        client = connected(server)
        assert client.recv()[0]["code"] == 404
    finally:
        server.stop()


def test_options_stream_is_msgpack_even_without_the_header(srv):
    client = connected(srv, path="/v1beta1/indicative", use_msgpack=False)
    client.send(json.dumps({"action": "auth", "key": KEY, "secret": SECRET}))
    assert isinstance(client.recv_raw(), bytes)
    client.close()


@pytest.mark.parametrize("kind", ["crossed", "out_of_order", "malformed", "not_array", "garbage", "unknown_type"])
def test_injected_bad_message_reaches_subscribers(srv, kind):
    client = connected(srv)
    client.auth()
    client.send({"action": "subscribe", "quotes": ["TSLA"]})
    client.recv()
    n = srv.call(srv.hub.inject("stocks", kind=kind, symbol="TSLA"))
    assert n >= 1
    raw = client.recv_raw()
    if kind == "crossed":
        q = msgpack.unpackb(raw)[0]
        assert q["bp"] > q["ap"]
    elif kind == "out_of_order":
        q = msgpack.unpackb(raw)[0]
        assert q["t"].to_unix_nano() < srv.clock.now_ns()
    elif kind == "not_array":
        assert isinstance(msgpack.unpackb(raw), dict)
    elif kind == "garbage":
        with pytest.raises(Exception):  # noqa: B017 (any decoding error)
            msgpack.unpackb(raw)
    client.close()


def test_inject_hook_over_http_sends_given_messages(srv):
    import httpx

    client = connected(srv)
    client.auth()
    msg = {"T": "q", "S": "ZZZ", "bp": 1.0, "ap": 2.0, "t": "2026-03-10T14:00:00.000000001Z"}
    r = httpx.post(srv.url + "/_sim/inject", json={"family": "stocks", "messages": [msg]})
    assert r.json()["connections"] >= 1
    got = client.recv()[0]
    assert got["S"] == "ZZZ" and got["t"].to_unix_nano() % 1000 == 1
    client.close()


def test_drop_hook_closes_connections_mid_flight(srv):
    import httpx

    client = connected(srv)
    client.auth()
    client.send({"action": "subscribe", "quotes": ["QQQ"]})
    client.recv()
    wait_for(lambda: subscribed(srv, "quotes", ["QQQ"]))
    assert httpx.post(srv.url + "/_sim/drop", json={"family": "stocks"}).json()["connections"] >= 1
    with pytest.raises(ConnectionClosed) as exc:
        while True:
            client.recv()
    assert exc.value.rcvd is None or exc.value.rcvd.code == 1011
