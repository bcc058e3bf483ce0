"""The headless bridge-point agent (`hoinghi bridge`): a room's camera, microphone and codec in a meeting.

It speaks only the wire protocol (docs/protocol.md) and imports nothing of the server.
Modules: cli (arguments), config (checked settings), sources (cameras, microphones, RTSP,
files), outputs (the meeting's audio and active speaker out), stats (health figures),
session (one connection to a meeting), agent (reconnects forever), texts (messages).
"""
