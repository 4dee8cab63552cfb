"""The `openai` backend against a real OpenAI-compatible HTTP server on 127.0.0.1 (a real socket, no patched client).

The server is scripted: each request takes the next behaviour from a queue
(429, 500, timeout, malformed JSON, truncated JSON, a reply contradicting
the facts), then answers correctly from the facts it finds in the prompt.
Every failure must end as a retry, a quarantine row with its reason, or a
filtered item, and never crash the stage.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from musicflamingo.io import read_json, read_jsonl
from musicflamingo.llm.base import LLMError, LLMUnavailable
from musicflamingo.llm.openai_backend import OpenAIChat, OpenAIConfig
from musicflamingo.testing.corpus import write_corpus


def _grab(pattern: str, text: str, default: str = "") -> str:
    m = re.search(pattern, text)
    return m.group(1) if m else default


def _good_content(body: dict) -> str:
    """A correct reply built from the facts in the prompt (what a well-behaved LLM would say)."""
    prompt = body["messages"][-1]["content"]
    if isinstance(prompt, list):  # audio chat: text parts plus an input_audio part
        return "A bowed violin line over a steady pulse."
    tempo = float(_grab(r"Tempo: ([\d.]+) BPM", prompt, "100"))
    key = _grab(r"Key: ([A-G][#b]? (?:major|minor))", prompt, "C major")
    meter = _grab(r"Meter: (\S+)", prompt, "4/4")
    fmt = body.get("response_format", {}).get("json_schema", {}).get("name") or ("think" if "Question:" in prompt else "qa" if "question-answer" in prompt else "caption")
    if fmt == "judge":
        return json.dumps({"contradictions": [], "verdict": "pass"})
    if fmt == "caption":
        return json.dumps({"caption": f"The piece moves at about {tempo:.0f} BPM. It is in {key}. " + "The texture is steady and clear throughout the recording. " * 4})
    if fmt == "qa":
        return json.dumps({"items": [
            {"skill": "attribute", "qtype": "tempo", "question": "What is the tempo?", "options": [f"about {round(tempo * f)} BPM" for f in (1.0, 0.5, 1.5, 2.0)],
             "answer": f"about {round(tempo)} BPM", "fact_ids": ["tempo_bpm"]},
            {"skill": "attribute", "qtype": "key", "question": "What key is it in?", "options": [], "answer": f"It is in {key}.", "fact_ids": ["key"]},
            {"skill": "attribute", "qtype": "key", "question": "What key is it in?", "options": [], "answer": "It is in F# minor." if key != "F# minor" else "It is in C major.", "fact_ids": ["key"]},
            {"skill": "attribute", "qtype": "meter", "question": "What meter?", "options": ["4/4", "3/4", "6/8"], "answer": meter, "fact_ids": ["time_signature"]},
        ]})
    letter = _grab(r"The correct option is \(([A-D])\)", prompt, "A")
    return json.dumps({"steps": [f"The beats give about {tempo:.0f} BPM.", f"The key estimate is {key}.", f"A step with a slip: it runs at {round(tempo * 2)} BPM.",
                                 "So the option follows."], "answer_letter": letter})


class FakeServer:
    def __init__(self):
        self.script: deque[str] = deque()
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        self.default = "ok"
        self.in_flight = self.max_in_flight = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _leave(self):
                # Before answering: once the client has the answer it may send its
                # next request before this thread reaches `finally`.
                with outer.lock:
                    if not self._left:
                        self._left = True
                        outer.in_flight -= 1

            def _send(self, code: int, payload: bytes, headers: dict | None = None):
                self._leave()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self._left = False
                with outer.lock:
                    outer.requests.append(body)
                    mode = outer.script.popleft() if outer.script else outer.default
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    self._answer(body, mode)
                finally:
                    self._leave()

            def _answer(self, body: dict, mode: str):
                if mode == "slow":
                    time.sleep(0.2)
                if mode == "429":
                    return self._send(429, b'{"error": "rate limited"}', {"Retry-After": "0"})
                if mode == "500":
                    return self._send(500, b'{"error": "boom"}')
                if mode == "400-schema" and "response_format" in body and body["response_format"]["type"] == "json_schema":
                    return self._send(400, b'{"error": "response_format json_schema not supported"}')
                if mode == "timeout":
                    time.sleep(2.5)
                if mode == "trickle":  # headers at once, then one byte every 0.2 s (bounded: 40 bytes at most)
                    self._leave()
                    try:
                        self.send_response(200)
                        self.send_header("Content-Length", "1000")
                        self.end_headers()
                        for _ in range(40):
                            self.wfile.write(b" ")
                            self.wfile.flush()
                            time.sleep(0.2)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    return
                if mode == "prose":
                    reply = {"choices": [{"message": {"role": "assistant", "content": "Sure! Here is a lovely caption about the song."}, "finish_reason": "stop"}]}
                    return self._send(200, json.dumps(reply).encode())
                content, finish = _good_content(body), "stop"
                if mode == "malformed":
                    content = "{'caption': not json at all"
                elif mode == "truncated":
                    content, finish = content[: len(content) // 2], "length"
                elif mode == "judge-fail":
                    content = json.dumps({"contradictions": ["the caption names a mode the facts do not give"], "verdict": "fail"})
                elif mode == "contradict":
                    content = json.dumps({"caption": "It races along at 300 BPM. It is in a key of Ab minor. A saxophone and drums carry the tune. "
                                                     "The bright texture changes little. The harmony stays simple."})
                reply = {"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": finish}]}
                try:
                    self._send(200, json.dumps(reply).encode())
                except BrokenPipeError:  # the client gave up (timeout): that is the point of this mode
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.close()


def _chat(server, tmp_path, **kw) -> OpenAIChat:
    kw = {"timeout_s": 1.0, "max_retries": 2, "backoff_s": 0.01, **kw}
    cfg = OpenAIConfig(base_url=server.url, model="fake", api_key="test-key", cache_dir=str(tmp_path / "cache"), **kw)
    return OpenAIChat(cfg)


MSG = [{"role": "user", "content": "Tempo: 120.0 BPM\nKey: D major\nMeter: 4/4\nWrite."}]
SCHEMA = {"type": "object", "properties": {"caption": {"type": "string"}}, "required": ["caption"]}


@pytest.mark.parametrize("failure", ["429", "500", "timeout", "malformed"])
def test_transient_failures_are_retried(server, tmp_path, failure):
    server.script.extend([failure])
    reply = _chat(server, tmp_path).chat(MSG, schema=SCHEMA, schema_name="caption")
    assert reply.attempts == 2 and reply.data["caption"].startswith("The piece moves at about 120 BPM")
    assert reply.events and reply.events[0].startswith("retry")


def test_persistent_failure_and_truncation_raise_a_reason(server, tmp_path):
    server.script.extend(["500"] * 3)
    with pytest.raises(LLMError, match="HTTP 500.*after 3 attempts"):
        _chat(server, tmp_path).chat(MSG, schema=SCHEMA, schema_name="caption")
    server.script.extend(["truncated"])
    with pytest.raises(LLMError, match="truncated"):
        _chat(server, tmp_path).chat(MSG, schema=SCHEMA, schema_name="caption")


def test_schema_fallback_cache_and_auth(server, tmp_path):
    server.script.extend(["400-schema"])
    chat = _chat(server, tmp_path)
    reply = chat.chat(MSG, schema=SCHEMA, schema_name="caption")
    assert "fallback: json_object" in reply.events and server.requests[-1]["response_format"] == {"type": "json_object"}
    n = len(server.requests)
    again = _chat(server, tmp_path).chat(MSG, schema=SCHEMA, schema_name="caption")
    assert again.cached and len(server.requests) == n  # answered from the prompt-hash cache, no request


def test_response_size_is_bounded(server, tmp_path):
    with pytest.raises(LLMError, match="larger than"):
        _chat(server, tmp_path, max_response_bytes=50).chat(MSG, schema=SCHEMA, schema_name="caption")


def test_concurrency_limit_bounds_requests_in_flight(server, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    server.default = "slow"
    chat = _chat(server, tmp_path, concurrency=2)
    msgs = [[{"role": "user", "content": f"Tempo: 120.0 BPM\nKey: D major\nrequest {i}"}] for i in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda m: chat.chat(m, schema=SCHEMA, schema_name="caption"), msgs))
    assert all(r.data for r in replies) and server.max_in_flight == 2


def test_audio_model_surface_caption_sends_the_audio(server, tmp_path):
    import base64

    from musicflamingo.llm.audio_caption import ServedAudioCaptioner

    cap = ServedAudioCaptioner(_chat(server, tmp_path)).caption(b"RIFF-fake-wav", {"instruments": ["violin"]})
    content = server.requests[-1]["messages"][0]["content"]
    audio = [c for c in content if c["type"] == "input_audio"][0]["input_audio"]
    assert base64.b64decode(audio["data"]) == b"RIFF-fake-wav" and audio["format"] == "wav"
    assert "violin" in content[0]["text"] and cap


def test_config_comes_from_the_environment(monkeypatch):
    from omegaconf import OmegaConf

    monkeypatch.setenv("MF_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("MF_LLM_MODEL", "m")
    cfg = OpenAIConfig.from_cfg(OmegaConf.create({"backend": "openai", "base_url": None, "model": None}))
    assert cfg.base_url == "http://127.0.0.1:9/v1" and cfg.model == "m"
    monkeypatch.delenv("MF_LLM_BASE_URL")
    with pytest.raises(ValueError, match="base_url"):
        OpenAIConfig.from_cfg(OmegaConf.create({"backend": "openai", "model": "m"}))


def _corpus(root: Path, n: int = 4) -> None:
    write_corpus(root, n)


def test_stage_survives_every_failure_mode(server, tmp_path):
    from musicflamingo import expectations
    from musicflamingo.config import compose
    from musicflamingo.stage import run_stage

    _corpus(tmp_path)
    # Requests go per track: caption, then QA. Track 1: contradicting caption, truncated QA. Track 2: 429 then
    # three 500s (retries exhausted) for the caption, one 500 for QA. Track 3: timeout, then malformed, then good.
    server.script.extend(["contradict", "truncated", "429", "500", "500", "500", "timeout", "malformed"])
    cfg = compose(["llm=openai", f"llm.base_url={server.url}", "llm.model=fake", "llm.timeout_s=1.0", "llm.max_retries=2",
                   "llm.backoff_s=0.01", "llm.concurrency=1", "llm.breaker_failures=10", "skills.min_heldout_tracks=1"])
    summary = run_stage("mf_skills", cfg, tmp_path)
    out = tmp_path / "data/mf_skills"
    quarantine = read_jsonl(out / "quarantine.jsonl")
    reasons = " | ".join(q["reason"] for q in quarantine)
    assert "truncated" in reasons                       # a caption cut off at max_tokens: quarantined with the reason
    assert "HTTP 500" in reasons                        # three 500s in a row: retries exhausted, quarantined
    assert "contradicts MIR facts" in reasons           # the wrong-key open answer, filtered
    assert "multiple choice needs 4" in reasons         # a 3-option item: invalid reply, quarantined
    rows = read_jsonl(out / "train.jsonl") + read_jsonl(out / "heldout.jsonl")
    assert summary["train_items"] + summary["heldout_items"] == len(rows) > 0
    checks = {c["id"]: c for c in read_jsonl(out / "factcheck.jsonl")}
    contradicting = [c for c in checks.values() if c["task"] == "caption" and c["outcome"] != "kept"]
    assert contradicting  # the 300 BPM / Ab minor / saxophone caption was repaired or dropped, never released as is
    for r in rows:
        if r["task"] == "caption":
            assert "300 BPM" not in r["conversations"][1]["value"] and "saxophone" not in r["conversations"][1]["value"]
    assert expectations.validate_folder("mf_skills", out).success
    assert (out / "README.md").exists() and read_json(out / "factcheck_report.json")["items"] > 0
    n_requests = len(server.requests)

    # MF-Think through the same server: the slip step (x2 tempo) is rewritten, each step keeps its verdict.
    think = run_stage("mf_think", cfg, tmp_path)
    samples = read_jsonl(tmp_path / "data/mf_think/train.jsonl")
    assert think["samples"] == len(samples) > 0 and think["steps_rewritten"] > 0
    for s in samples:
        assert all("outcome" in v and "claims" in v for v in s["step_verdicts"])
    assert expectations.validate_folder("mf_think", tmp_path / "data/mf_think").success

    # A rerun resumes from the response cache: no request is repeated for finished prompts.
    before = len(server.requests)
    run_stage("mf_skills", cfg, tmp_path)
    assert len(server.requests) - before < n_requests


def test_optional_llm_judge_drops_what_it_fails(server, tmp_path):
    from musicflamingo.config import compose
    from musicflamingo.stage import run_stage

    _corpus(tmp_path, n=2)
    server.script.extend(["judge-fail", "500", "500", "500"])
    cfg = compose([f"skills.judge={{backend: openai, base_url: '{server.url}', model: judge, max_retries: 2, backoff_s: 0.01, timeout_s: 2}}"])
    summary = run_stage("mf_skills", cfg, tmp_path)
    out = tmp_path / "data/mf_skills"
    reasons = [q["reason"] for q in read_jsonl(out / "quarantine.jsonl")]
    checks = read_jsonl(out / "factcheck.jsonl")
    assert sum(r.startswith("LLM judge:") for r in reasons) == 1 and summary["writer"] == "builtin"
    assert any(str(c.get("judge", "")).startswith("unavailable: HTTP 500") for c in checks)  # recorded, item kept
    assert read_json(out / "factcheck_report.json")["drop_reasons"] == {"LLM judge": 1}


def test_total_deadline_bounds_a_trickling_server(server, tmp_path):
    # Headers at once, then a byte every 0.2 s: a per-read timeout would never fire; the total deadline does.
    server.default = "trickle"
    chat = _chat(server, tmp_path, max_retries=0)
    t0 = time.monotonic()
    with pytest.raises(LLMError, match="deadline"):
        chat.chat(MSG, schema=SCHEMA)
    assert time.monotonic() - t0 < 1.5  # timeout_s=1.0


def test_circuit_breaker_stops_at_a_dead_endpoint_and_names_it(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on: connection refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    chat = OpenAIChat(OpenAIConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=10, backoff_s=0.01, breaker_failures=3))
    with pytest.raises(LLMUnavailable, match=f"127.0.0.1:{port}/v1/chat/completions is down: 3 consecutive"):
        chat.chat(MSG)
    t0 = time.monotonic()
    with pytest.raises(LLMUnavailable):  # open: no further request is made
        chat.chat(MSG)
    assert time.monotonic() - t0 < 0.05


def test_breaker_resets_on_any_answer_and_budget_stops_the_stage(server, tmp_path):
    server.script.extend(["500", "500", "malformed", "500", "500"])
    chat = _chat(server, tmp_path, max_retries=6, breaker_failures=3)
    assert chat.chat(MSG, schema=SCHEMA).data  # 2 + 2 transport failures, never 3 in a row
    server.default = "timeout"
    slow = _chat(server, tmp_path, timeout_s=5.0, stage_budget_s=0.5, max_retries=3)
    t0 = time.monotonic()
    with pytest.raises(LLMUnavailable, match="budget of 0.5 s"):
        slow.chat([{"role": "user", "content": "another prompt"}], schema=SCHEMA)
    assert time.monotonic() - t0 < 1.0


def test_key_only_from_the_environment():
    from omegaconf import OmegaConf

    with pytest.raises(ValueError, match="api_key_env"):
        OpenAIConfig.from_cfg(OmegaConf.create({"backend": "openai", "base_url": "http://x/v1", "model": "m", "api_key": "sk-in-config"}))


def test_a_dead_or_useless_llm_fails_the_stage_and_keeps_the_previous_output(server, tmp_path):
    from musicflamingo.config import compose
    from musicflamingo.stage import StageFailed, run_stage

    _corpus(tmp_path, n=2)
    run_stage("mf_skills", compose(["skills.min_heldout_tracks=1"]), tmp_path)  # the built-in writer's output
    out = tmp_path / "data/mf_skills"
    before = {p.name: p.read_bytes() for p in out.glob("*.jsonl")}
    base = ["llm=openai", f"llm.base_url={server.url}", "llm.model=fake", "llm.timeout_s=2", "llm.backoff_s=0.01",
            "llm.concurrency=1", "llm.max_retries=1", "skills.min_heldout_tracks=1"]
    server.default = "500"
    with pytest.raises(LLMUnavailable, match="is down: 4 consecutive transport failures"):
        run_stage("mf_skills", compose(base), tmp_path)
    assert {p.name: p.read_bytes() for p in out.glob("*.jsonl")} == before and not list(tmp_path.glob("data/.mf_skills*"))
    server.default = "prose"  # answers, but nothing usable: a failure, not an empty "successful" dataset
    with pytest.raises(LLMUnavailable, match="gives no usable output: 8 consecutive unusable replies"):
        run_stage("mf_skills", compose(base), tmp_path)
    with pytest.raises(StageFailed, match=r"released 0 items from 2 tracks: 4 writer errors .*0 dropped by the fact check"):
        run_stage("mf_skills", compose(base + ["llm.unusable_replies=100"]), tmp_path)
    assert {p.name: p.read_bytes() for p in out.glob("*.jsonl")} == before


def test_unchecked_items_get_no_factuality():
    from musicflamingo.data.factcheck import Report

    r = Report()
    r.writer_error("caption: HTTP 500")
    d = r.as_dict()
    assert d["mean_factuality"] is None and d["dropped"] == 0 and d["writer_errors"] == 1


def test_stage_overrides_pick_config_groups_like_configure(tmp_path):
    from musicflamingo.config import compose, load_params, write_params

    write_params(compose([]), tmp_path)  # llm=builtin
    cfg = load_params(tmp_path, ["llm=openai", "llm.model=m", "skills.mcq_per_track=1"])
    assert cfg.llm.backend == "openai" and cfg.llm.model == "m" and cfg.llm.breaker_failures == 4 and cfg.skills.mcq_per_track == 1
    assert compose(["llm=openai", "llm.model=m"]).llm == cfg.llm


def test_a_key_in_the_environment_reaches_neither_dvc_lock_params_nor_mlflow(tmp_path, monkeypatch):
    import subprocess
    import sys

    from musicflamingo import registry, tracking
    from musicflamingo.config import compose, write_params
    from musicflamingo.stage import StageContext

    secret = "sk-test-4f9c1e7a0b2d"
    monkeypatch.setenv("MF_LLM_API_KEY", secret)
    cfg = compose(["llm=openai", "llm.base_url=http://127.0.0.1:9/v1", "llm.model=m"])
    assert OpenAIConfig.from_cfg(cfg.llm).api_key == secret  # the backend does get it
    write_params(cfg, tmp_path)
    (tmp_path / "dvc.yaml").write_text("stages:\n  mf_skills:\n    cmd: echo done > out.txt\n    params: [seed, skills, llm]\n    outs: [out.txt]\n")
    dvc = Path(sys.executable).with_name("dvc")
    subprocess.run([dvc, "init", "--no-scm", "-q"], cwd=tmp_path, check=True, timeout=120)
    subprocess.run([dvc, "repro", "-q"], cwd=tmp_path, check=True, timeout=120)
    assert "api_key_env: MF_LLM_API_KEY" in (tmp_path / "dvc.lock").read_text()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MLFLOW_ARTIFACTS_DESTINATION", (tmp_path / "mlartifacts").as_uri())
    ctx = StageContext(root=tmp_path, stage=registry.get("mf_skills"))
    with tracking.stage_run(ctx, cfg) as run:
        run_id = run.info.run_id
    import mlflow

    logged = mlflow.get_run(run_id).data.params
    assert logged["mf.llm.api_key_env"] == "MF_LLM_API_KEY"
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "resolved_params.yaml" for p in files) and (tmp_path / "dvc.lock") in files
    assert not [p for p in files if secret.encode() in p.read_bytes()]


def test_cli_stage_takes_group_overrides_and_fails_in_one_line(tmp_path):
    """`MF_LLM_BASE_URL=... MF_LLM_MODEL=... musicflamingo stage mf_skills llm=openai`, as the issue ran it."""
    import os
    import socket
    import subprocess
    import sys

    from musicflamingo.config import compose, write_params
    from musicflamingo.testing.lying_server import LyingServer

    write_params(compose(["skills.min_heldout_tracks=1"]), tmp_path)  # llm=builtin in params.yaml
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    _corpus(tmp_path, n=2)
    env = {**os.environ, "MF_ROOT": str(tmp_path), "MF_LLM_MODEL": "liar", "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = [sys.executable, "-m", "musicflamingo.cli", "stage", "mf_skills", "llm=openai", "llm.concurrency=1"]
    with LyingServer(max_seconds=120) as srv:
        ok = subprocess.run(cmd, env={**env, "MF_LLM_BASE_URL": srv.url}, capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]
    assert json.loads(ok.stdout[ok.stdout.index("{"):])["writer"] == "llm:openai"
    before = (tmp_path / "data/mf_skills/train.jsonl").read_bytes()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    bad = subprocess.run(cmd, env={**env, "MF_LLM_BASE_URL": dead, "MF_LLM_MODEL": "other"}, capture_output=True, text=True, timeout=300)  # no cached reply
    last = bad.stderr.strip().splitlines()[-1]
    assert bad.returncode == 3 and "Traceback" not in bad.stderr
    assert last.startswith("musicflamingo stage mf_skills failed: LLM endpoint " + dead) and "consecutive transport failures" in last
    assert (tmp_path / "data/mf_skills/train.jsonl").read_bytes() == before


def test_a_failing_stage_leaves_its_previous_output_and_a_good_run_replaces_it(tmp_path, monkeypatch):
    from musicflamingo import registry
    from musicflamingo.config import compose
    from musicflamingo.stage import run_stage

    write_corpus(tmp_path, 2)
    cfg = compose(["skills.min_heldout_tracks=1"])
    run_stage("mf_skills", cfg, tmp_path)
    out = tmp_path / "data/mf_skills"
    (out / "marker.txt").write_text("previous run")

    def boom(cfg, ctx):
        (ctx.out / "train.jsonl").write_text("half written")
        raise RuntimeError("stage crashed")

    monkeypatch.setattr(registry.Stage, "load_entry", lambda self: boom)
    with pytest.raises(RuntimeError, match="stage crashed"):
        run_stage("mf_skills", cfg, tmp_path)
    assert (out / "marker.txt").read_text() == "previous run" and (out / "train.jsonl").read_text() != "half written"
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["mf_skills", "mir_metadata", "raw_audio"]
    monkeypatch.undo()
    run_stage("mf_skills", cfg, tmp_path)
    assert not (out / "marker.txt").exists() and (out / "train.jsonl").stat().st_size > 0


def test_stage_overrides_of_global_and_packaged_groups(tmp_path):
    from musicflamingo.config import compose, load_params, write_params

    write_params(compose([]), tmp_path)
    smoke = load_params(tmp_path, ["experiment=smoke"])
    assert smoke.experiment == "smoke" and smoke.data == compose(["experiment=smoke"]).data  # merged at the root
    from musicflamingo.config import _plain_groups, package_conf_dir

    groups = _plain_groups(package_conf_dir())  # `train` is only selected under a package (train@train.sft)
    assert {"llm", "skills", "think", "experiment"} <= groups and "train" not in groups
