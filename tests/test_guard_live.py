"""core.asgi.Guard under a real uvicorn (core.server, httptools): the short way for a plain
request hands the framework the server's own `send`, and a fault is still answered as the
contract says (H8) from the server's record of whether the answer had started: JSON 500 before,
the connection closed after, logged once either way and never by the server a second time."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from bench.baseline import json_bytes, lifespan, send_body
from conformance.servers import serve, server_env
from core.asgi import _RECORDING_SENDS, Guard, Receive, Scope, Send
from core.errors import ArenaError, InternalError
from core.profiles import ErrorResponse, TutorialProfile

pytestmark = pytest.mark.live

LOG = logging.getLogger("tests.guard_live")


def _render(error: Exception) -> ErrorResponse:
    # As core's render: the one log of a 500, with its traceback.
    if isinstance(error, ArenaError):
        return TutorialProfile().render(error)
    LOG.error("answered by Guard", exc_info=error)
    return TutorialProfile().render(InternalError())


async def _faulty(scope: Scope, receive: Receive, send: Send) -> None:
    """/status/ says whether it was handed the server's own `send`; /users/me/ fails before
    its answer starts, /users/me/items/ after."""
    if scope["type"] == "lifespan":
        await lifespan(receive, send)
        return
    if scope["path"] == "/status/":
        own = getattr(send, "__func__", None) in _RECORDING_SENDS
        await send_body(send, 200, json_bytes({"server_send": own}))
    elif scope["path"] == "/users/me/":
        raise RuntimeError("fault before the answer")
    else:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("fault after the answer started")


app = Guard(_faulty, _render)


def _log(data_dir: Path) -> str:
    return (data_dir / "server.log").read_text()


def test_guard_under_uvicorn_takes_the_short_way_and_answers_faults_once(tmp_path: Path) -> None:
    env = server_env(tmp_path)
    with (
        serve("guarded", env=env, app="tests.test_guard_live:app", ready_path="/status/") as live,
        httpx.Client(base_url=live.url, timeout=10.0) as client,
    ):
        plain = client.get("/status/")
        assert plain.status_code == 200
        assert plain.json() == {"server_send": True}
        # Not plain (a Host with userinfo): the general way still refuses it.
        refused = client.get("/status/", headers={"Host": "user@example.com"})
        assert refused.status_code == 400
        assert refused.json() == {"detail": "Invalid Host header"}

        before = client.get("/users/me/")
        assert before.status_code == 500
        assert before.headers["content-type"] == "application/json"
        assert before.json() == {"detail": "Internal Server Error"}
        head = client.head("/users/me/")
        assert head.status_code == 500
        assert head.headers["content-type"] == "application/json"
        assert head.content == b""

        with pytest.raises(httpx.RemoteProtocolError):
            client.get("/users/me/items/")
        log = _log(live.data_dir)

    assert log.count("RuntimeError: fault before the answer") == 2  # the GET and the HEAD
    assert log.count("RuntimeError: fault after the answer started") == 1
    assert log.count("answered by Guard") == 3
    # uvicorn never logged (or answered) a fault of its own: Guard took each one.
    assert "Exception in ASGI application" not in log


def test_uvicorn_s_request_cycles_are_the_recording_sends() -> None:
    from uvicorn.protocols.http import h11_impl, httptools_impl

    assert {httptools_impl.RequestResponseCycle.send, h11_impl.RequestResponseCycle.send} == set(
        _RECORDING_SENDS
    )
