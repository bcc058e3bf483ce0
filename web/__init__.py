"""HTTP and Socket.IO front end: the only package that wires meetings, sfu and transcription."""
