"""`hoinghi bridge`: run a bridge point's room devices in meetings without a browser.

Exit codes: 0 after SIGINT/SIGTERM, 2 for bad arguments or configuration, sources or outputs
that cannot be opened, or a token that belongs to another point (one line on stderr).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import NoReturn

from bridge.agent import run_agent
from bridge.config import AgentConfig, build_config
from bridge.texts import AgentError, say


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"{say('input_error')}: {message}", file=sys.stderr)
        raise SystemExit(2)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hoinghi bridge", description="Tác tử điểm cầu hoinghi: camera, micrô, codec phòng họp không cần trình duyệt")
    p.add_argument("--config", type=Path, help="TOML file with the same keys (server, point, token_file, video, …)")
    p.add_argument("--server", help="URL of the hoinghi server, e.g. https://hoinghi.quangninh.gov.vn")
    p.add_argument("--point", help="the point's id in rooms.toml")
    p.add_argument("--token-file", help="file holding the point's token (hoinghi point token)")
    p.add_argument("--video", help="/dev/video0 | v4l2:DEV | rtsp://… | lavfi:GRAPH | FILE | none")
    p.add_argument("--audio", help="alsa:DEVICE | pulse | rtsp://… | lavfi:GRAPH | FILE | none")
    p.add_argument("--audio-out", help="the meeting's audio: alsa:DEVICE | FILE (.wav, .ogg) | none")
    p.add_argument("--video-out", help="the active speaker: FILE (.mp4, .webm) | none")
    p.add_argument("--ca-file", help="PEM certificate to trust (a self-signed server)")
    p.add_argument("--max-backoff", type=float, help="seconds between reconnection attempts, at most (default 3)")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return p


def load(argv: list[str]) -> tuple[AgentConfig, str]:
    args = vars(parser().parse_args(argv))
    config_file, level = args.pop("config"), args.pop("log_level")
    return build_config(args, config_file), level


async def _serve(config: AgentConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await run_agent(config, stop)


def main(argv: list[str] | None = None) -> None:
    try:
        config, level = load(sys.argv[1:] if argv is None else argv)
        logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for noisy in ("aioice", "aiortc", "socketio", "engineio"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        asyncio.run(_serve(config))
    except AgentError as error:
        print(str(error), file=sys.stderr)
        raise SystemExit(2) from None
    print(say("stopped"), file=sys.stderr)
