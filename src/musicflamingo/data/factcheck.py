"""Claim-level fact checking against MIR facts.

Extracts checkable claims (tempo in BPM, key and mode, meter, chord names)
from any text and gives each a verdict: `supported`, `contradicted` or
`unverifiable`. Tolerances come from config. The MF-Think filter drops a
sample when too many of its steps carry a contradicted claim.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from musicflamingo.mir.tools import key_name

BPM_RE = re.compile(r"(\d+(?:\.\d+)?)\s*BPM", re.I)
KEY_RE = re.compile(r"\b([A-G](?:#|b)?)\s+(major|minor)\b")
METER_RE = re.compile(r"\b(\d{1,2})/(\d{1,2})\b")


@dataclass
class Verdict:
    claim: str
    kind: str
    verdict: str  # supported | contradicted | unverifiable


def check_text(text: str, facts: dict, bpm_tolerance: float = 0.04) -> list[Verdict]:
    out: list[Verdict] = []
    tempo = facts.get("tempo_bpm")
    for m in BPM_RE.finditer(text):
        value = float(m.group(1))
        if not tempo:
            out.append(Verdict(m.group(0), "tempo", "unverifiable"))
            continue
        ok = abs(value - tempo) <= bpm_tolerance * tempo
        out.append(Verdict(m.group(0), "tempo", "supported" if ok else "contradicted"))
    for m in KEY_RE.finditer(text):
        claimed = key_name(m.group(1), m.group(2))
        out.append(Verdict(m.group(0), "key", "supported" if claimed == facts.get("key") else "contradicted"))
    for m in METER_RE.finditer(text):
        claimed = f"{m.group(1)}/{m.group(2)}"
        ts = facts.get("time_signature")
        out.append(Verdict(claimed, "meter", "unverifiable" if ts in (None, "unknown") else ("supported" if claimed == ts else "contradicted")))
    return out


def score(verdicts: list[Verdict]) -> float:
    """Share of checkable claims that are supported (1.0 when nothing is checkable)."""
    checkable = [v for v in verdicts if v.verdict != "unverifiable"]
    return 1.0 if not checkable else sum(v.verdict == "supported" for v in checkable) / len(checkable)


def as_dicts(verdicts: list[Verdict]) -> list[dict]:
    return [asdict(v) for v in verdicts]
