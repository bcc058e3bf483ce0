"""Meeting domain and persistence: configuration, accounts, meetings, minutes.

Imports no web, Socket.IO, media or speech library: services take a session and
plain values and return plain values, so every front end and worker can reuse them.
"""
