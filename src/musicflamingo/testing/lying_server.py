"""A local OpenAI-compatible chat server that answers in the requested JSON but slips in false statements.

It reads the facts from the prompt (the `facts.jinja` block every writer
prompt carries), writes otherwise true captions, QA and reasoning from
them, and plants one false statement from `adversarial.statements` per
reply, taking the kinds in turn. Every planted lie is recorded in
`planted` (kind, the sentence carrying it) so a release can be grepped for them.

Bounded: it listens on 127.0.0.1 only, answers at most `max_requests`
requests and stops by itself after `max_seconds`.

    with LyingServer() as srv:
        ... point llm.base_url at srv.url ...
        srv.planted  # [(kind, sentence), ...]
"""

from __future__ import annotations

import json
import random
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from musicflamingo.testing.adversarial import statements

MAX_BODY = 1_000_000


def _seconds(mmss: str) -> float:
    m, s = mmss.split(":")
    return int(m) * 60 + float(s)


def facts_from_prompt(prompt: str) -> tuple[dict, dict]:
    """(facts, tags) read back from a writer prompt's facts block (what a model would see)."""
    grab = lambda pat: (m.group(1).strip() if (m := re.search(pat, prompt, re.M)) else None)  # noqa: E731
    facts: dict = {}
    if (d := grab(r"^Track duration: (\d+:\d\d)")):
        facts["duration_s"] = _seconds(d)
    if (t := grab(r"^Tempo: ([\d.]+) BPM")):
        facts["tempo_bpm"] = float(t)
    facts["time_signature"] = grab(r"^Meter: (\S+)")
    facts["key"] = grab(r"^Key: ([A-G][#b]? (?:major|minor))")
    if (sec := grab(r"^Sections: (.+)$")) and sec != "unknown":
        facts["sections"] = [[_seconds(a), _seconds(b), lab] for lab, a, b in re.findall(r"(\S+) (\d+:\d\d)-(\d+:\d\d)", sec)]
    if (sk := grab(r"^Section keys: (.+)$")):
        facts["section_keys"] = [[_seconds(a), _seconds(b), k] for a, b, k in re.findall(r"(\d+:\d\d)-(\d+:\d\d) ([A-G][#b]? (?:major|minor))", sk)]
    if (lu := grab(r"^Loudness: (-?[\d.]+) LUFS")):
        facts["loudness_lufs"] = float(lu)
    facts["vocals"] = {"yes": True, "no (instrumental)": False}.get(grab(r"^Vocals: (.+)$") or "", None)
    lyrics = grab(r"^Lyrics: (.+)$")
    facts["lyrics"] = "" if lyrics in (None, "unknown") else lyrics
    if (w := grab(r"^Timed words \(m:ss word\): (.+)$")):
        facts["words"] = [[_seconds(a), _seconds(a) + 0.4, word] for a, word in re.findall(r"(\d+:\d\d) ([A-Za-z'\-]+)", w)]
    tags: dict = {}
    if (inst := grab(r"^Instruments \(catalogue\): (.+)$")) and inst != "unknown":
        tags["instruments"] = [i.strip() for i in inst.split(",") if i.strip()]
    if (trad := grab(r"^Tradition / genre \(catalogue\): (.+)$")) and trad not in ("unknown", "None"):
        tags["tradition"] = trad
    return facts, tags


def _true_sentences(facts: dict, tags: dict) -> list[str]:
    out = []
    if facts.get("tempo_bpm"):
        out.append(f"The pulse sits near {facts['tempo_bpm']:.0f} BPM.")
    if facts.get("key"):
        out.append(f"The music is in {facts['key']}.")
    if facts.get("time_signature") not in (None, "unknown"):
        out.append(f"The beats group in {facts['time_signature']}.")
    for name in tags.get("instruments") or []:
        out.append(f"The {name} is heard throughout.")
    return out


_FILLER = ["The texture is clear and unhurried.", "Phrases breathe between entries.", "The mood stays calm and reflective.",
           "The recording feels intimate and warm.", "Each phrase is shaped with care."]


class LyingServer:
    def __init__(self, max_requests: int = 5000, max_seconds: float = 900.0, seed: int = 0):
        self.planted: list[tuple[str, str]] = []
        self.requests = 0
        self._lock = threading.Lock()
        self._turn = 0
        self._rng = random.Random(seed)
        self.max_requests = max_requests
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                with outer._lock:
                    outer.requests += 1
                    over = outer.requests > outer.max_requests
                length = int(self.headers.get("Content-Length") or 0)
                if over or length > MAX_BODY:
                    return self._send(503, {"error": "request budget of the test server spent" if over else "body too large"})
                try:
                    body = json.loads(self.rfile.read(length))
                    content = outer.reply(body)
                except (ValueError, KeyError, IndexError) as exc:
                    return self._send(400, {"error": f"{type(exc).__name__}: {exc}"})
                self._send(200, {"choices": [{"message": {"role": "assistant", "content": content}, "finish_reason": "stop"}]})

            def _send(self, code: int, payload: dict):
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._timer = threading.Timer(max_seconds, self.close)  # stops by itself
        self._timer.daemon = True

    # -------------------------------------------------------------- lifecycle

    def start(self) -> "LyingServer":
        self._thread.start()
        self._timer.start()
        return self

    def close(self) -> None:
        self._timer.cancel()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "LyingServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -------------------------------------------------------------- replies

    def _lie(self, facts: dict, tags: dict) -> tuple[str, str]:
        """The next false statement for this track, the kinds taken in turn."""
        lies = [s for s in statements(facts, tags, random.Random(self._rng.random())) if not s.true]
        with self._lock:
            kinds = sorted({s.kind for s in lies})
            kind = kinds[self._turn % len(kinds)]
            self._turn += 1
            lie = next(s for s in lies if s.kind == kind)
            # The sentence that carries the lie (the second one of a claim split over two sentences).
            self.planted.append((lie.kind, re.split(r"(?<=[.!?])\s+", lie.text)[-1]))
        return lie.kind, lie.text

    def reply(self, body: dict) -> str:
        prompt = body["messages"][-1]["content"]
        if not isinstance(prompt, str):
            raise ValueError("only text prompts")
        facts, tags = facts_from_prompt(prompt)
        name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name") or (
            "think" if "Question:" in prompt else "qa" if "question-answer" in prompt else "caption")
        true = _true_sentences(facts, tags)
        _, lie = self._lie(facts, tags)
        if name == "caption":
            parts = true + _FILLER[:3]
            parts.insert(self._rng.randrange(len(parts) + 1), lie)
            return json.dumps({"caption": " ".join(parts)})
        if name == "qa":
            items = []
            if facts.get("tempo_bpm"):
                bpm = round(facts["tempo_bpm"])
                items.append({"skill": "attribute", "qtype": "tempo", "question": "About how fast is the beat?",
                              "options": [f"{bpm} BPM", f"{bpm * 2} BPM", f"{round(bpm / 2)} BPM", f"{round(bpm * 1.5)} BPM"],
                              "answer": f"{bpm} BPM", "fact_ids": ["tempo_bpm"]})
            if facts.get("key"):
                items.append({"skill": "attribute", "qtype": "key", "question": "What is the key of the recording?", "options": [],
                              "answer": f"The music is in {facts['key']}.", "fact_ids": ["key"]})
            # The lie as an open answer, and an instrument lie as a multiple-choice answer.
            items.append({"skill": "attribute", "qtype": "description", "question": "Describe one notable feature of the recording.",
                          "options": [], "answer": lie, "fact_ids": ["tags"]})
            inst_lie = next((s for s in statements(facts, tags, random.Random(self._rng.random()))
                             if s.kind == "instrument_singular" and not s.true), None)
            if inst_lie is not None:
                with self._lock:  # released, it would read "(A) <instrument>" (the lie is option A)
                    self.planted.append(("mcq_answer", f"(A) {inst_lie.marker}"))
                real = (tags.get("instruments") or ["piano"])[0]
                options = [inst_lie.marker, "nothing", f"{real} and voice", "a drone"]
                items.append({"skill": "attribute", "qtype": "instrument", "question": "Which instrument carries the melody?",
                              "options": options, "answer": inst_lie.marker, "fact_ids": ["tags"]})
            return json.dumps({"items": items})
        if name == "think":
            letter = (re.search(r"The correct option is \(([A-D])\)", prompt) or [None, "A"])[1]
            steps = true[:2] + [lie, "So the correct option follows from these facts."]
            return json.dumps({"steps": steps, "answer_letter": letter})
        if name == "judge":
            return json.dumps({"contradictions": [], "verdict": "pass"})
        raise ValueError(f"unknown reply kind {name!r}")
