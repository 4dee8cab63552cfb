"""Test instruments that ship with the package so benchmarks and tests share them (never used by the stages).

`hostile`: the hostile ingest corpus (every real-file case, with its expected outcome);
`adversarial`: false (and matching true) statements about a track, written
independently of the built-in writer; `lying_server`: a local
OpenAI-compatible server that slips those false statements into otherwise
true JSON replies.
"""
