"""The Music Flamingo model: offline tiny builder, local checkpoint loader, input encoding, answer parsing."""
