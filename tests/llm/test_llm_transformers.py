"""The `transformers` backend with a tiny random causal LM built offline (nothing is downloaded)."""

from __future__ import annotations

import pytest

from musicflamingo.llm.base import LLMError
from musicflamingo.llm.prompts import render


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    out = tmp_path_factory.mktemp("tiny_lm")
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    corpus = ['{"caption": "a piece in D major at 120 BPM"}', "Tempo Key Meter chords sections user assistant system", "{ } [ ] : , \" steps items"] * 20
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", eos_token="<eos>", pad_token="<eos>")
    fast.save_pretrained(out)
    model = GPT2LMHeadModel(GPT2Config(vocab_size=fast.vocab_size, n_positions=8192, n_embd=32, n_layer=2, n_head=2))
    model.save_pretrained(out)
    return out


def test_local_model_answers_or_fails_with_a_reason(tiny_lm, tmp_path):
    from musicflamingo.llm.transformers_backend import TransformersChat, TransformersConfig

    chat = TransformersChat(TransformersConfig(model_path=str(tiny_lm), max_new_tokens=16, max_time_s=20, cache_dir=str(tmp_path / "c")))
    reply = chat.chat([{"role": "user", "content": "Describe the music."}])
    assert isinstance(reply.text, str) and reply.attempts == 1
    # A random model cannot produce the JSON asked for: the failure is an LLMError with a reason, not a crash.
    with pytest.raises(LLMError) as err:
        chat.chat([{"role": "user", "content": "Return JSON."}], schema={"type": "object"})
    assert "JSON" in err.value.reason or "truncated" in err.value.reason


def test_stage_with_a_local_model_that_writes_nothing_usable_fails(tiny_lm, tmp_path):
    from musicflamingo.config import compose
    from musicflamingo.stage import StageFailed, run_stage
    from musicflamingo.testing.corpus import write_corpus

    write_corpus(tmp_path, 1)
    cfg = compose(["llm=transformers", f"llm.model_path={tiny_lm}", "llm.max_new_tokens=8", "llm.max_retries=0"])
    # The model did generate (the prompt fit its context); its random text is not the JSON asked for, so nothing
    # is usable: the stage fails with the reasons (it does not report an empty dataset as a success).
    with pytest.raises(StageFailed, match=r"released 0 items from 1 tracks: 2 writer errors \(.*(JSON|truncated).*writer llm:transformers"):
        run_stage("mf_skills", cfg, tmp_path)
    assert not (tmp_path / "data/mf_skills").exists()


def test_prompts_are_template_files():
    text = render("caption.jinja", target_words=450, duration="1:00", tempo="120.0 BPM", tempo_confidence=None, tempo_alternatives="",
                  meter="4/4", key="D major", key_confidence=None, key_alternatives="", per_tool="", chords="0:00 D (I)", cadences="",
                  harmonic_rhythm=None, sections="", section_keys="", loudness="", brightness=None, onset_density=None,
                  vocals="unknown", lyrics="", words="", instruments="violin", tradition=None, surface=[])
    assert "about 450 words" in text and "Key: D major" in text and "Sections: unknown" in text
