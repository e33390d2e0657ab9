"""The fake model provider: one loopback server for Anthropic, OpenAI Responses, Chat Completions and Gemini, plus
the few Amp service stubs its JS build needs. Scripted, deterministic, no keys, no network.

    async with FakeLLM([Reply(tool="Bash", input={"command": "echo hi"}), Reply(text="done")]) as fake:
        env = {"ANTHROPIC_BASE_URL": fake.url, "ANTHROPIC_API_KEY": "sk-fake"}
        ...
        assert fake.main_requests()[1]["body"]["messages"][-1] ...
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from . import anthropic_api, gemini_api, openai_chat, openai_responses
from .script import Reply, ScriptQueue
from .sse import paced

AMP_USER = {"id": "user_fake", "email": "fake@example.com", "username": "fake", "features": [], "team": None}


def _error(reply: Reply, body: dict[str, Any]) -> Response:
    assert reply.error is not None
    headers = {"retry-after": str(reply.error.retry_after)} if reply.error.retry_after is not None else {}
    return JSONResponse(body, status_code=reply.error.status, headers=headers)


def build_app(queue: ScriptQueue) -> Starlette:
    async def read(request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = orjson.loads(raw) if raw else {}
        except orjson.JSONDecodeError:
            body = {}
        return body if isinstance(body, dict) else {}

    def take(api: str, request: Request, body: dict[str, Any], main: bool) -> tuple[int | None, Reply | None]:
        index, reply = queue.pop() if main else (None, None)
        queue.record(api, request.url.path, "main" if main else "side", body, dict(request.headers), index, reply)
        return index, reply

    async def messages(request: Request) -> Response:
        body = await read(request)
        model = body.get("model", "fake-model")
        main = anthropic_api.is_main(body)
        _, reply = take("anthropic", request, body, main)
        if reply is not None and reply.error is not None:
            return _error(reply, anthropic_api.error_body(reply))
        blocks = anthropic_api.blocks_for(reply, body, queue) if reply else anthropic_api.side_blocks(body, queue)
        msg = anthropic_api.message(blocks, model, queue.next_id("msg_fake_"))
        if not body.get("stream"):
            return JSONResponse(msg)
        return StreamingResponse(paced(reply or Reply(), anthropic_api.stream(msg)), media_type="text/event-stream")

    async def count_tokens(request: Request) -> Response:
        body = await read(request)
        return JSONResponse({"input_tokens": max(1, len(orjson.dumps(body.get("messages", []))) // 4)})

    async def responses(request: Request) -> Response:
        body = await read(request)
        model = body.get("model", "fake-model")
        _, reply = take("responses", request, body, bool(body.get("tools")))
        if reply is not None and reply.error is not None:
            return _error(reply, {"error": {"type": reply.error.type, "message": reply.error.message}})
        items = openai_responses.output_items(reply or Reply(text="ok"), body, queue)
        chunks = openai_responses.stream(items, model, queue.next_id("resp_"))
        return StreamingResponse(paced(reply or Reply(), chunks), media_type="text/event-stream")

    async def chat(request: Request) -> Response:
        body = await read(request)
        model = body.get("model", "fake-model")
        _, reply = take("chat", request, body, bool(body.get("tools")))  # no tools: a title generator
        if reply is not None and reply.error is not None:
            return _error(reply, {"error": {"type": reply.error.type, "message": reply.error.message}})
        msg = openai_chat.choice_message(reply or Reply(text="Fake session title"), body, queue)
        cid = queue.next_id("chatcmpl-")
        if not body.get("stream"):
            return JSONResponse(openai_chat.completion(msg, model, cid))
        return StreamingResponse(
            paced(reply or Reply(), openai_chat.stream(msg, model, cid)), media_type="text/event-stream"
        )

    async def gemini(request: Request) -> Response:
        body = await read(request)
        target = request.path_params["target"]  # "<model>:<method>"
        model, _, method = target.rpartition(":")
        if method == "countTokens":
            return JSONResponse({"totalTokens": max(1, len(orjson.dumps(body.get("contents", []))) // 4)})
        if method not in ("generateContent", "streamGenerateContent"):
            return JSONResponse({"error": {"code": 404, "message": f"no method {method}", "status": "NOT_FOUND"}}, 404)
        main = gemini_api.is_main(body)
        _, reply = take("gemini", request, {**body, "model": model}, main)
        if reply is not None and reply.error is not None:
            return _error(reply, gemini_api.error_body(reply))
        parts = gemini_api.parts_for(reply, body, queue) if reply else gemini_api.side_parts(body)
        rid = queue.next_id("gemini_resp_")
        if method == "generateContent":
            return JSONResponse(gemini_api.response(parts, model, rid))
        return StreamingResponse(
            paced(reply or Reply(), gemini_api.stream(parts, model, rid)), media_type="text/event-stream"
        )

    async def amp_internal(request: Request) -> Response:
        method = next(iter(request.query_params.keys()), "")
        body = await read(request)
        queue.record("amp", f"/api/internal?{method}", "service", body, dict(request.headers), None, None)
        if method == "getCreditsByRequestId":
            return JSONResponse({"ok": False, "error": {"code": "not-found"}}, status_code=404)
        return JSONResponse({"ok": True, "result": AMP_USER if method == "getUserInfo" else {}})

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "fake-model", "object": "model", "type": "model"}]})

    async def root(request: Request) -> Response:
        return Response(status_code=200)

    async def control_script(request: Request) -> Response:
        data = await read(request) if request.method == "POST" else {}
        replies = [Reply.model_validate(r) for r in (data.get("replies") or [])]
        if request.url.path.endswith("/enqueue"):
            queue.replies.extend(replies)
        else:
            queue.replies, queue.used = replies, 0
            if request.url.path.endswith("/reset"):
                queue.log.clear()
        return JSONResponse({"queued": len(queue.replies) - queue.used})

    async def control_log(request: Request) -> Response:
        return JSONResponse(queue.log)

    async def not_found(request: Request) -> Response:
        return JSONResponse({"type": "error", "error": {"type": "not_found_error", "message": request.url.path}}, 404)

    routes = [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/messages", messages, methods=["POST"]),
        Route("/api/provider/anthropic/v1/messages", messages, methods=["POST"]),
        Route("/v1/messages/count_tokens", count_tokens, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/responses", responses, methods=["POST"]),
        Route("/v1/chat/completions", chat, methods=["POST"]),
        Route("/chat/completions", chat, methods=["POST"]),
        Route("/v1/models", models, methods=["GET"]),
        Route("/api/internal", amp_internal, methods=["POST", "GET"]),
        Route("/v1beta/models/{target}", gemini, methods=["POST"]),
        Route("/v1/models/{target}", gemini, methods=["POST"]),
        Route("/_fake/script", control_script, methods=["POST"]),
        Route("/_fake/enqueue", control_script, methods=["POST"]),
        Route("/_fake/reset", control_script, methods=["POST"]),
        Route("/_fake/log", control_log, methods=["GET"]),
        Route("/{path:path}", not_found, methods=["GET", "POST", "PUT", "DELETE"]),
    ]
    return Starlette(routes=routes)


class FakeLLM:
    """Run the fake provider inside the current event loop on 127.0.0.1 (port 0 = pick a free one)."""

    def __init__(self, replies: list[Reply | dict[str, Any]] | None = None, port: int = 0) -> None:
        self.queue = ScriptQueue([r if isinstance(r, Reply) else Reply.model_validate(r) for r in replies or []])
        self.port = port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def enqueue(self, *replies: Reply | dict[str, Any]) -> None:
        self.queue.replies.extend(r if isinstance(r, Reply) else Reply.model_validate(r) for r in replies)

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.queue.log

    def main_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.queue.log if r["kind"] == "main"]

    async def start(self) -> FakeLLM:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(build_app(self.queue), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.ensure_future(self._server.serve(sockets=[sock]))
        while not self._server.started:
            if self._task.done():
                self._task.result()
            await asyncio.sleep(0.01)
        return self

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)

    async def __aenter__(self) -> FakeLLM:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
