"""LLM judge backend against a real OpenAI-compatible HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from musicflamingo.evaluation import judge
from musicflamingo.evaluation.judge import (
    RUBRIC,
    JudgeConfigError,
    JudgeOutputError,
    judge_captions,
    judge_config,
    parse_judgement,
)

GOOD = {"coverage": 8, "correctness": 6, "rationale": "Key and tempo right, meter missing."}


def _completion(content: str) -> bytes:
    return json.dumps({"id": "x", "object": "chat.completion",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                                    "finish_reason": "stop"}]}).encode()


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, code: int, body: bytes, headers: dict | None = None):
        # Leave the in-flight count before answering: once the client has the
        # answer it may send its next request before this thread gets to `finally`.
        self._leave()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _leave(self):
        with self.server.lock:
            if not self._left:
                self._left = True
                self.server.in_flight -= 1

    def do_POST(self):
        srv = self.server
        self._left = False
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        scenario = self.path.strip("/").split("/")[0]
        with srv.lock:
            srv.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
            srv.hits[scenario] = srv.hits.get(scenario, 0) + 1
            n = srv.hits[scenario]
            srv.in_flight += 1
            srv.max_in_flight = max(srv.max_in_flight, srv.in_flight)
        try:
            if scenario == "ok":
                self._send(200, _completion(json.dumps(GOOD)))
            elif scenario == "fenced":
                self._send(200, _completion("<think>hmm</think>\n```json\n" + json.dumps(GOOD) + "\n```"))
            elif scenario == "flaky":  # 429 first, then success
                if n == 1:
                    self._send(429, b'{"error": "rate limited"}', {"Retry-After": "0"})
                else:
                    self._send(200, _completion(json.dumps(GOOD)))
            elif scenario == "down":
                self._send(500, b'{"error": "boom"}')
            elif scenario == "badjson":
                self._send(200, _completion("Coverage is eight out of ten, correctness six."))
            elif scenario == "badrange":
                self._send(200, _completion('{"coverage": 12, "correctness": 3}'))
            elif scenario == "notjson":
                self._send(200, b"<html>gateway</html>")
            elif scenario == "unauthorized":
                self._send(401, b'{"error": "bad key"}')
            elif scenario == "slow":
                time.sleep(1.0)
                self._send(200, _completion(json.dumps(GOOD)))
            elif scenario == "busy":  # for the concurrency limit
                time.sleep(0.05)
                self._send(200, _completion(json.dumps(GOOD)))
            else:
                self._send(404, b"{}")
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout case)
            pass
        finally:
            self._leave()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("MF_JUDGE_API_KEY", "sk-test-123")  # the key comes only from the environment
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.lock = threading.Lock()
    srv.requests, srv.hits, srv.in_flight, srv.max_in_flight = [], {}, 0, 0
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def conf(server, scenario, **over):
    base = {"base_url": f"http://127.0.0.1:{server.server_address[1]}/{scenario}/v1", "model": "judge-model",
            "timeout_s": 2.0, "max_retries": 2, "backoff_s": 0.01,
            "max_backoff_s": 0.05, "concurrency": 2}
    return {**base, **over}


ITEM = {"caption": "A Bach chorale in D major at 140 BPM.",
        "truth": {"Genre": "Bach chorale", "BPM": "139.5", "Key": "D major", "Structure": None},
        "reference": "A four-part chorale for strings."}


def test_success_returns_scores_and_raw(server):
    [row] = judge_captions([ITEM], conf(server, "ok"))
    assert row["coverage"] == 8.0 and row["correctness"] == 6.0
    assert json.loads(row["raw"]) == GOOD
    req = server.requests[0]
    assert req["path"] == "/ok/v1/chat/completions"
    assert req["auth"] == "Bearer sk-test-123"
    assert req["body"]["model"] == "judge-model"
    system, user = req["body"]["messages"]
    assert system["content"] == RUBRIC
    assert "- Key: D major" in user["content"] and "Structure" not in user["content"]  # unknowns not sent
    assert "A four-part chorale for strings." in user["content"] and ITEM["caption"] in user["content"]


def test_fenced_and_think_wrapped_json_is_accepted(server):
    [row] = judge_captions([ITEM], conf(server, "fenced"))
    assert row["coverage"] == 8.0 and "error" not in row


def test_429_is_retried_then_succeeds(server):
    [row] = judge_captions([ITEM], conf(server, "flaky"))
    assert row["coverage"] == 8.0
    assert server.hits["flaky"] == 2


def test_500_always_gives_error_row_after_retries_then_the_breaker_opens(server):
    rows = judge_captions([ITEM, ITEM, ITEM], conf(server, "down", max_retries=2, concurrency=1))
    assert all(set(r) == {"error"} and "HTTP 500" in r["error"] for r in rows)
    # first item: first try + 2 retries; the 4th consecutive failure opens the breaker, so the third item sends nothing
    assert server.hits["down"] == 4 and "is down" in rows[2]["error"]


def test_malformed_content_gives_error_row(server):
    for scenario in ("badjson", "badrange"):
        [row] = judge_captions([ITEM], conf(server, scenario))
        assert set(row) == {"error"} and "malformed" in row["error"], (scenario, row)
        assert server.hits[scenario] == 1  # the server answered: not retried
    [row] = judge_captions([ITEM], conf(server, "notjson"))  # a body that is not JSON: a transport fault, retried
    assert set(row) == {"error"} and "not JSON" in row["error"] and server.hits["notjson"] == 3


def test_client_error_is_not_retried_and_key_not_leaked(server):
    [row] = judge_captions([ITEM], conf(server, "unauthorized"))
    assert "HTTP 401" in row["error"] and "sk-test-123" not in row["error"]
    assert server.hits["unauthorized"] == 1
    assert "sk-test-123" not in repr(judge_config(conf(server, "ok")))


def test_timeout_gives_error_row(server):
    t0 = time.monotonic()
    [row] = judge_captions([ITEM], conf(server, "slow", timeout_s=0.2, max_retries=1))
    assert "deadline" in row["error"] and "2 attempts" in row["error"]
    assert time.monotonic() - t0 < 1.5


def test_connection_refused_gives_error_row():
    import socket

    with socket.socket() as s:  # a port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    [row] = judge_captions([ITEM], {"base_url": f"http://127.0.0.1:{port}/v1", "model": "m", "max_retries": 1,
                                    "backoff_s": 0.01})
    assert "Connection refused" in row["error"]


def test_one_bad_item_does_not_sink_the_batch(server, monkeypatch):
    def flaky_messages(item):
        if item.get("caption") == "boom":
            raise RuntimeError("bad item")
        return [{"role": "user", "content": str(item["caption"])}]

    monkeypatch.setattr(judge, "build_messages", flaky_messages)
    rows = judge_captions([ITEM, {"caption": "boom"}, ITEM], conf(server, "ok"))
    assert [("error" in r) for r in rows] == [False, True, False]
    assert "bad item" in rows[1]["error"]


def test_concurrency_limit(server):
    rows = judge_captions([ITEM] * 8, conf(server, "busy", concurrency=2))
    assert all("error" not in r for r in rows) and server.hits["busy"] == 8
    assert 1 <= server.max_in_flight <= 2


def test_config_from_env_and_errors(monkeypatch):
    monkeypatch.setenv("MF_JUDGE_BASE_URL", "http://127.0.0.1:9/v1/")
    monkeypatch.setenv("MF_JUDGE_MODEL", "env-model")
    monkeypatch.delenv("MF_JUDGE_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    c = judge_config()
    assert c.base_url == "http://127.0.0.1:9/v1/" and c.model == "env-model" and c.api_key is None
    assert judge_config({"model": "cfg-model", "concurrency": "3"}).model == "cfg-model"  # config wins
    assert judge_config({"concurrency": "3"}).concurrency == 3
    monkeypatch.delenv("MF_JUDGE_BASE_URL")
    with pytest.raises(JudgeConfigError, match="MF_JUDGE_BASE_URL"):
        judge_captions([ITEM])
    with pytest.raises(JudgeConfigError, match="unknown"):
        judge_config({"base_url": "http://x/v1", "model": "m", "temprature": 0})
    with pytest.raises(JudgeConfigError):
        judge_config({"base_url": "ftp://x", "model": "m"})
    with pytest.raises(JudgeConfigError, match="MF_JUDGE_API_KEY"):  # secrets come only from the environment
        judge_config({"base_url": "http://x/v1", "model": "m", "api_key": "sk-in-config"})


def test_parse_judgement():
    assert parse_judgement('{"coverage": "7", "correctness": 9.5}') == {"coverage": 7.0, "correctness": 9.5}
    assert parse_judgement('Sure! {"coverage": 3, "correctness": 4} Hope this helps.')["coverage"] == 3.0
    for bad in ("", None, "[1, 2]", '{"coverage": 3}', '{"coverage": -1, "correctness": 2}',
                '{"coverage": true, "correctness": 2}'):
        with pytest.raises(JudgeOutputError):
            parse_judgement(bad)
