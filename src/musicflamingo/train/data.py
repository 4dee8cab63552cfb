"""Supervised examples: conversation records -> processor inputs with assistant-only labels.

Contract:
- `encode_example(processor, record, audio, max_length)` returns a dict of
  tensors for one record: `input_ids` and `labels` (1-D, same length),
  `input_features` (windows x mel x frames) and `input_features_mask`
  (windows x frames). The sequence is the chat-templated user turn (audio
  expanded to its `<sound>` tokens) + the assistant header + the reply +
  `<|im_end|>`. `labels` is -100 on every prompt, audio and header position
  and equals `input_ids` on the reply and its closing `<|im_end|>` (so the
  model learns to stop). When too long, the reply is cut, never the prompt
  (the number of `<sound>` tokens must match the audio features).
- The prompt part is tokenised exactly as at generation time
  (`model.inputs.encode_prompts`), so training and inference see the same
  prefix.
- `encode_audio(processor, wav)` -> `AudioPrompt(features, mask, n_tokens)`:
  the processor's log-mel windows of one clip and how many `<sound>` tokens it
  expands to; `encode_example` accepts it instead of the samples, so a clip's
  features are computed once however many records ask about it.
- `ConversationDataset(records, processor, audio_loader, max_length)` encodes
  lazily (one record per `__getitem__`), keeping each sound's `AudioPrompt`
  (about 1 MB per 30 s window; the log-mel was ~0.13 s of each item's
  ~0.15 s encoding); `.lengths` estimates each record's length cheaply for
  length-grouped batching.
- `SupervisedCollator(pad_token_id)` right-pads ids (pad id), labels (-100)
  and the attention mask (0), and concatenates the audio windows of the
  batch along dim 0, as `MusicFlamingoProcessor` lays them out.
- `weight_tasks(records, weights, seed)` repeats records per task (mixture
  weights: w copies on average, the fraction drawn at random), and
  `split_tracks(records, fraction, seed)` holds out whole tracks (no track
  on both sides) to pick a checkpoint on.
- `option_text_variants(records, fraction, seed)` returns copies of about
  `fraction` of the MCQ records in the layout of the benchmarks scored by
  string match on the option text (MMAU, MMAR: unlettered choices, "Answer
  with the exact text of one choice.", rendered by
  `data.formats.choices_prompt`, as `evaluation.benchmarks.base.render_prompt` renders MMAU), whose reply is the option text
  alone (task `mcq_text`): a reply "(B)" scores 0 there, while the lettered
  layout (MuChoMusic) keeps its "(B) text" reply.
- `pack_turns(records, max_turns, max_tokens, tokenizer, seed)` packs records
  about one sound into multi-turn conversations (`turns_of(record)` lists a
  record's (human, reply) pairs; `encode_example` labels every reply), so a
  clip's ~750 audio tokens go through the language model once per several
  answers instead of once per answer.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import torch

from musicflamingo.io import read_jsonl
from musicflamingo.model import inputs as mi
from musicflamingo.model.tokenizer import IM_END

IGNORE = -100
AUDIO_TOKENS_PER_S = 25  # after the encoder's 4x downsampling: 750 tokens per 30 s window


def load_records(path: Path, task: str | None = None) -> list[dict]:
    """Records of a JSONL file, optionally only those of one `task`."""
    rows = read_jsonl(path)
    if not rows and not Path(path).exists():
        raise FileNotFoundError(f"missing dataset {path}")
    return [r for r in rows if task is None or r.get("task") == task]


def weight_tasks(records: list[dict], weights: Mapping[str, float] | None, seed: int) -> list[dict]:
    """Each record of task t repeated weights[t] times on average (floor(w) copies, one more with
    probability w - floor(w)); tasks not named keep weight 1. The SFT mixture: long captions are
    few next to the short QA items, so they get more passes per epoch."""
    weights = dict(weights or {})
    bad = {k: w for k, w in weights.items() if not (float(w) >= 0.0 and math.isfinite(float(w)))}
    if bad:
        raise ValueError(f"task weights must be finite and >= 0, got {bad}")
    rng = random.Random(int(seed))
    out = []
    for r in records:
        w = float(weights.get(r.get("task", ""), 1.0))
        out += [r] * (int(w) + int(rng.random() < w - int(w)))
    if not out:
        raise ValueError(f"task weights {weights} leave no training records")
    return out


def split_tracks(records: list[dict], fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """(train, held out): about `fraction` of the tracks, chosen by a seeded hash of track_id,
    with all their records. At least one track is held out and one kept when fraction > 0."""
    if not 0.0 <= fraction < 1.0:
        raise ValueError(f"validation fraction must be in [0, 1), got {fraction}")
    tracks = sorted({r.get("track_id") or r["id"] for r in records})
    if fraction == 0.0 or len(tracks) < 2:
        return list(records), []
    order = sorted(tracks, key=lambda t: hashlib.sha256(f"{seed}:{t}".encode()).hexdigest())
    held = set(order[: min(len(tracks) - 1, max(1, round(fraction * len(tracks))))])
    return (
        [r for r in records if (r.get("track_id") or r["id"]) not in held],
        [r for r in records if (r.get("track_id") or r["id"]) in held],
    )


def _question(human: str) -> str:
    """The question of a lettered MCQ human turn: the lines between `<sound>` and "(A) ..."."""
    lines = human.replace("<sound>", "").strip().splitlines()
    out = []
    for line in lines:
        if re.match(r"^\(A\)\s", line.strip()):
            break
        out.append(line)
    return "\n".join(out).strip()


def option_text_variants(records: list[dict], fraction: float, seed: int) -> list[dict]:
    from musicflamingo.data.formats import choices_prompt
    from musicflamingo.model.inputs import human_turn

    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"option_text_fraction must be in [0, 1], got {fraction}")
    rng = random.Random(int(seed))
    out = []
    for r in records:
        if r.get("task") != "mcq" or not r.get("options") or not r.get("answer") or rng.random() >= fraction:
            continue
        question = _question(human_turn(r))
        out.append({**r, "id": f"{r['id']}-text", "task": "mcq_text",
                    "conversations": [{"from": "human", "value": f"<sound>\n{choices_prompt(question, list(r['options']))}"},
                                      {"from": "gpt", "value": r["answer"]}]})
    return out


class AudioPrompt(NamedTuple):
    """One clip as the processor lays it out: `features` (windows x mel x frames),
    `mask` (windows x frames) and `n_tokens`, the number of `<sound>` tokens it expands to."""

    features: torch.Tensor
    mask: torch.Tensor
    n_tokens: int


def encode_audio(processor, wav) -> AudioPrompt:
    """The processor's features and `<sound>` token count for one clip (the costly part of
    encoding an example: the log-mel of every 30 s window), computed once per clip by
    `ConversationDataset`."""
    out = mi.encode_prompts(processor, [processor.audio_token], [wav])
    n = int((out["input_ids"][0] == processor.audio_token_id).sum())
    return AudioPrompt(out["input_features"], out["input_features_mask"], n)


def turns_of(record: dict) -> list[tuple[str, str]]:
    """(human, reply) pairs of a record, in order: one for a plain record, several for a
    packed one (`pack_turns`); only the first human turn carries `<sound>`."""
    conv = record["conversations"]
    pairs = [(conv[i]["value"], conv[i + 1]["value"]) for i in range(0, len(conv) - 1, 2)
             if conv[i]["from"] == "human" and conv[i + 1]["from"] == "gpt"]
    if not pairs or 2 * len(pairs) != len(conv):
        raise ValueError(f"record {record.get('id')}: conversations must alternate human/gpt turns")
    return pairs


def encode_example(
    processor, record: dict, audio, max_length: int, human: str | None = None, reply: str | None = None
) -> dict:
    """`audio`: the clip's samples, or its `AudioPrompt` (`encode_audio`) to reuse its features.
    `human`/`reply` override the record's (single) turn. A packed record's later turns follow
    as the chat template renders them, each reply + `<|im_end|>` labelled; turns that do not
    fit under `max_length` are dropped (the first one's reply is cut instead)."""
    pairs = [(mi.human_turn(record) if human is None else human, mi.gpt_turn(record) if reply is None else reply)]
    if human is None and reply is None:
        pairs = turns_of(record)
    clip = audio if isinstance(audio, AudioPrompt) else encode_audio(processor, audio)
    tok = processor.tokenizer
    # The processor's own expansion (`replace_audio_token`): bos + n x <sound> + eos, then tokenised
    # as one text; tests check equality with the processor's output on the same clip.
    span = processor.audio_bos_token + processor.audio_token * clip.n_tokens + processor.audio_eos_token
    text = mi.prompt_text(processor, pairs[0][0]).replace(processor.audio_token, span)
    prompt_ids = torch.tensor(tok(text)["input_ids"], dtype=torch.long)
    room = max_length - len(prompt_ids)
    if room < 2:
        raise ValueError(
            f"record {record.get('id')}: prompt ({len(prompt_ids)} tokens incl. audio) "
            f"leaves no room under max_length={max_length}"
        )
    ids, labels = [prompt_ids], [torch.full_like(prompt_ids, IGNORE)]
    messages = [{"role": "user", "content": pairs[0][0]}]
    for k, (h, r) in enumerate(pairs):
        if k:  # the template's text between the previous reply and this one: user turn + header
            before = processor.apply_chat_template(messages, tokenize=False)
            messages.append({"role": "user", "content": h})
            after = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            done = before.rindex(IM_END) + len(IM_END)  # emitted so far: through the last reply's end token
            sep = torch.tensor(tok(after[done:], add_special_tokens=False)["input_ids"], dtype=torch.long)
        else:
            sep = torch.zeros(0, dtype=torch.long)
        reply_ids = torch.tensor(tok(r + IM_END, add_special_tokens=False)["input_ids"], dtype=torch.long)
        if k and len(sep) + len(reply_ids) > room:
            break
        reply_ids = reply_ids[:room]
        ids += [sep, reply_ids]
        labels += [torch.full_like(sep, IGNORE), reply_ids]
        room -= len(sep) + len(reply_ids)
        messages.append({"role": "assistant", "content": r})
    return {
        "input_ids": torch.cat(ids),
        "labels": torch.cat(labels),
        "input_features": clip.features,
        "input_features_mask": clip.mask,
    }


def pack_turns(records: list[dict], max_turns: int, max_tokens: int, tokenizer, seed: int) -> list[dict]:
    """Records about the same sound packed into multi-turn conversations of at most `max_turns`
    turns and about `max_tokens` tokens (25 audio tokens per second + the turns' text), so one
    pass over a clip's ~750 audio tokens trains several answers (LLaVA / AF-Chat style
    multi-turn data). A sound's records are dealt round-robin over as few conversations as
    those limits allow, so copies of one item (task weights) and an MCQ with its option-text
    variant never share a conversation (a later turn could copy the answer); turn order and
    conversation order are shuffled (seed). `max_turns` <= 1 returns the records unchanged."""
    if max_turns <= 1:
        return list(records)
    rng = random.Random(int(seed))
    by_sound: dict[str, list[dict]] = {}
    for r in records:
        by_sound.setdefault(r["sound"], []).append(r)
    out = []
    for sound in sorted(by_sound):
        key = {id(r): str(r.get("id", "")).removesuffix("-text") for r in by_sound[sound]}
        size = {id(r): len(tokenizer(mi.human_turn(r) + mi.gpt_turn(r), add_special_tokens=False)["input_ids"]) + 12
                for r in by_sound[sound]}
        room = max_tokens - int(min(float(by_sound[sound][0].get("duration") or 30.0), 30.0) * AUDIO_TOKENS_PER_S)
        # a reply longer than half the room (a long caption) stays alone; the rest are dealt round-robin
        packs = [[r] for r in by_sound[sound] if 2 * size[id(r)] > room]
        group = [r for r in by_sound[sound] if 2 * size[id(r)] <= room]
        rng.shuffle(group)
        group.sort(key=lambda r: key[id(r)])  # copies of one item adjacent, hence dealt to different packs
        n = max([sum(1 for r in group if key[id(r)] == k) for k in {key[id(r)] for r in group}] + [-(-len(group) // max_turns)])
        while n < len(group) and not all(sum(size[id(r)] for r in group[i::n]) <= room for i in range(n)):
            n += 1
        packs += [group[i::n] for i in range(n)] if group else []
        for members in packs:
            rng.shuffle(members)
            conv = []
            for k, m in enumerate(members):
                h = mi.human_turn(m)
                conv += [{"from": "human", "value": h if k == 0 else h.replace("<sound>", "").lstrip()},
                         {"from": "gpt", "value": mi.gpt_turn(m)}]
            out.append({**members[0], "id": "+".join(m["id"] for m in members), "conversations": conv,
                        "task": members[0].get("task") if len(members) == 1 else "packed"})
    rng.shuffle(out)
    return out


class ConversationDataset(torch.utils.data.Dataset):
    def __init__(self, records: list[dict], processor, audio_loader: mi.AudioLoader, max_length: int):
        if not records:
            raise ValueError("no training records")
        self.records, self.processor, self.audio, self.max_length = records, processor, audio_loader, int(max_length)
        self._lengths: list[int] | None = None
        self._clips: dict[str, AudioPrompt] = {}  # per sound: QA items share tracks and epochs repeat them

    @property
    def lengths(self) -> list[int]:
        """Estimated sequence length per record (text tokens + 25 audio tokens per second, capped
        at max_length) without decoding audio: what length-grouped batching sorts by."""
        if self._lengths is None:
            tok = self.processor.tokenizer
            self._lengths = [
                min(
                    self.max_length,
                    sum(len(tok(h + g, add_special_tokens=False)["input_ids"]) + 12 for h, g in turns_of(r))
                    + int(min(float(r.get("duration") or self.audio.max_s), self.audio.max_s) * AUDIO_TOKENS_PER_S),
                )
                for r in self.records
            ]
        return self._lengths

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict:
        rec = self.records[i]
        clip = self._clips.get(rec["sound"])
        if clip is None:
            clip = self._clips[rec["sound"]] = encode_audio(self.processor, self.audio(rec["sound"]))
        return encode_example(self.processor, rec, clip, self.max_length)


class SupervisedCollator:
    def __init__(self, pad_token_id: int):
        self.pad_token_id = pad_token_id

    def __call__(self, items: list[dict]) -> dict:
        n = max(len(x["input_ids"]) for x in items)
        ids = torch.full((len(items), n), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(items), n), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(items), n), dtype=torch.long)
        for i, x in enumerate(items):
            k = len(x["input_ids"])
            ids[i, :k], labels[i, :k], mask[i, :k] = x["input_ids"], x["labels"], 1
        return {
            "input_ids": ids,
            "attention_mask": mask,
            "labels": labels,
            "input_features": torch.cat([x["input_features"] for x in items]),
            "input_features_mask": torch.cat([x["input_features_mask"] for x in items]),
        }


@torch.no_grad()
def heldout_loss(model, dataset, collator, batch_size: int = 4) -> float:
    """Token-weighted mean next-token NLL over the labelled (assistant) tokens of `dataset`."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    device = next(model.parameters()).device
    for start in range(0, len(dataset), batch_size):
        batch = collator([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
        batch = {k: v.to(device) for k, v in batch.items()}
        labels = batch.pop("labels")
        logits = model(**batch).logits[:, :-1].float()
        target = labels[:, 1:]
        nll = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=IGNORE, reduction="sum"
        )
        total += float(nll)
        count += int((target != IGNORE).sum())
    model.train(was_training)
    return total / max(count, 1)
