"""Speech and lyrics ASR data for the backbone enhancement stage (espeak-ng corpus, adapters, mixture)."""
