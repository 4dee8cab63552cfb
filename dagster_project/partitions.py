"""Ingest batches: one dynamic partition per batch of new audio, registered by the new-audio sensor."""

import dagster as dg

audio_batches = dg.DynamicPartitionsDefinition(name="audio_batches")
