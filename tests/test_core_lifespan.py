"""core.lifespan: ASGI lifespan events for a framework app that refuses them."""

from __future__ import annotations

from typing import Any

from core.lifespan import Lifespan


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def app(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls.append(scope["type"])

    async def start(self) -> None:
        self.calls.append("start")

    async def stop(self) -> None:
        self.calls.append("stop")


async def drive(app: Lifespan, *events: str) -> list[dict[str, Any]]:
    inbox = [{"type": f"lifespan.{event}"} for event in events]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    return sent


async def test_startup_and_shutdown_run_the_hooks_and_the_app_sees_no_lifespan() -> None:
    recorder = Recorder()
    app = Lifespan(recorder.app, recorder.start, recorder.stop)
    sent = await drive(app, "startup", "shutdown")
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert recorder.calls == ["start", "stop"]
    await app({"type": "http"}, None, None)
    assert recorder.calls == ["start", "stop", "http"]


async def test_without_hooks() -> None:
    sent = await drive(Lifespan(Recorder().app), "startup", "shutdown")
    assert [message["type"] for message in sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


async def test_a_failed_startup_is_reported_to_the_server() -> None:
    async def fail() -> None:
        raise ValueError("bad key")

    sent = await drive(Lifespan(Recorder().app, fail), "startup")
    assert sent == [{"type": "lifespan.startup.failed", "message": "ValueError('bad key')"}]
