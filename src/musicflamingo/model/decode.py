"""The one decoding loop: batched greedy (or sampled) replies to human turns with audio.

`decode_batches(model, processor, humans, audio_of, max_new_tokens, batch_size,
do_sample=False, **generate_kwargs)` renders each human turn with the chat
template (`inputs.prompt_text`), encodes `batch_size` prompts at a time with
their clips (`inputs.encode_prompts`; `audio_of(i)` gives item i's mono
waveform, float32 at the processor's rate, loaded only when its batch comes)
and decodes them with `inputs.generate` (HF `generate`, audio placeholders
suppressed). It yields `(start, texts)` per batch, `texts` being the replies of
items `start .. start + len(texts) - 1`, so a caller can cache each batch as it
lands. The model is in eval mode while decoding and goes back to its previous
mode afterwards. Used by the evaluation (`evaluation.predict`, `evaluation.mcq`)
and the reward probe (`train.probe`); GRPO's rollouts call `inputs.generate`
directly because they need the token ids too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np

from musicflamingo.model import inputs as mi


def decode_batches(
    model,
    processor,
    humans: Sequence[str],
    audio_of: Callable[[int], np.ndarray],
    max_new_tokens: int,
    batch_size: int,
    do_sample: bool = False,
    **generate_kwargs,
) -> Iterator[tuple[int, list[str]]]:
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(humans), batch_size):
            stop = min(start + batch_size, len(humans))
            prompts = [mi.prompt_text(processor, h) for h in humans[start:stop]]
            batch = mi.encode_prompts(processor, prompts, [audio_of(i) for i in range(start, stop)])
            _, texts = mi.generate(model, processor, batch, max_new_tokens=max_new_tokens, do_sample=do_sample, **generate_kwargs)
            yield start, texts
    finally:
        model.train(was_training)


def decode(model, processor, humans: Sequence[str], audio_of: Callable[[int], np.ndarray], max_new_tokens: int,
           batch_size: int, **kwargs) -> list[str]:
    """All replies of `decode_batches`, in item order."""
    return [t for _, texts in decode_batches(model, processor, humans, audio_of, max_new_tokens, batch_size, **kwargs) for t in texts]
