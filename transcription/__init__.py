"""Live Vietnamese speech recognition: PCM frames in, attributed segments out (Vosk)."""
