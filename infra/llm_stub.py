"""A stand-in OpenAI-compatible chat-completions endpoint for the local stack, its tests and benchmarks.

No model can be reached from here, yet the agent tier's real path (strands' ``OpenAIModel`` over HTTP, the
structured-output tool, usage accounting, the queue and the worker around it) should run end to end. This server
answers ``POST /v1/chat/completions`` the way a model that uses no tools would: one ``RoutingVerdict`` tool call,
streamed or not, with token counts (about four characters a token). Its choice is the keyword baseline's
(``agent.keyword``) on the ticket's subject and description, or the fast router's first team when the keywords
find nothing. It is a test endpoint, not a model: accuracy, latency and cost measured against it say nothing about
a real model and are labelled so wherever they are reported.

    python -m infra.llm_stub [--port 8088]      # then SWITCHBOARD_AGENT_PROVIDER=openai
                                                # SWITCHBOARD_AGENT_BASE_URL=http://127.0.0.1:8088/v1
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agent.keyword import KeywordClassifier
from agent.taxonomy import Taxonomy, load_taxonomy

LOOPBACK = "127.0.0.1"
VERDICT_TOOL = "RoutingVerdict"
MODEL_NAME = "switchboard-stub"
_SUBJECT = re.compile(r"<subject>(.*?)</subject>", re.S)
_DESCRIPTION = re.compile(r"<description>(.*?)</description>", re.S)
_TOP_TEAM = re.compile(r"top teams[^\n]*\n- ([^:\n]+):", re.I)


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class StubModel:
    """Chooses a verdict for the conversation of one request."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.keywords = KeywordClassifier(taxonomy)

    def verdict(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        prompt = next((_text(m) for m in messages if m.get("role") == "user"), "")
        ticket = " ".join(m.group(1) for pattern in (_SUBJECT, _DESCRIPTION) if (m := pattern.search(prompt)))
        classification = self.keywords.classify([ticket])[0]
        category, _ = classification.top
        team = self.taxonomy.team_of[category]
        if classification.out_of_scope and (fast := _TOP_TEAM.search(prompt)):
            team = fast.group(1).strip()
        return {
            "team": team,
            "category": self.taxonomy.spec(team).category,
            "second_team": None,
            "needs_human": False,
            "needs_human_reason": "",
            "reasoning": f"Stub endpoint: keyword match for {team} (not a model).",
        }


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content or ""


class StubServer:
    """The HTTP server; ``requests`` counts the completions it answered (tests assert how often it was asked)."""

    def __init__(self, port: int = 0, taxonomy: Taxonomy | None = None, delay_s: float = 0.0) -> None:
        self.model = StubModel(taxonomy or load_taxonomy())
        self.delay_s = delay_s
        self.requests = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((LOOPBACK, port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name="llm-stub", daemon=True)

    @property
    def url(self) -> str:
        """The base URL an OpenAI client takes (``…/v1``)."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StubServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def complete(self, request: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
        """The verdict as arguments of a tool call, with prompt and completion token counts."""
        with self._lock:
            self.requests += 1
        if self.delay_s:
            time.sleep(self.delay_s)
        arguments = json.dumps(self.model.verdict(request.get("messages", [])))
        call = {
            "id": f"call-{self.requests}",
            "type": "function",
            "function": {"name": VERDICT_TOOL, "arguments": arguments},
        }
        prompt_tokens = _tokens(json.dumps(request.get("messages", [])) + json.dumps(request.get("tools", [])))
        return call, prompt_tokens, _tokens(arguments)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the local stack has its own logs."""

            def do_POST(self) -> None:
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                call, prompt_tokens, completion_tokens = stub.complete(request)
                usage = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                }
                if request.get("stream"):
                    self._stream(call, usage)
                    return
                message = {"role": "assistant", "content": None, "tool_calls": [call]}
                self._json(200, _completion([{"index": 0, "message": message, "finish_reason": "tool_calls"}], usage))

            def _json(self, status: int, body: dict[str, Any]) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _stream(self, call: dict[str, Any], usage: dict[str, int]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                start = {"index": 0, **call}
                chunks = [
                    _completion([{"index": 0, "delta": {"role": "assistant", "tool_calls": [start]}}]),
                    _completion([{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]),
                    _completion([], usage),
                ]
                for chunk in chunks:
                    self.wfile.write(f"data: {json.dumps({**chunk, 'object': 'chat.completion.chunk'})}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")

        return Handler


def _completion(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": MODEL_NAME,
        "choices": choices,
    }
    if usage is not None:
        body["usage"] = usage
    return body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=8088)
    args = parser.parse_args(argv)
    try:
        server = StubServer(args.port).start()
    except OSError as exc:
        raise SystemExit(f"error: cannot listen on {LOOPBACK}:{args.port}: {exc.strerror}") from None
    print(f"OpenAI-compatible test endpoint on {server.url} (model {MODEL_NAME!r}, not a model: keyword baseline)")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
