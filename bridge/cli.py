"""`hoinghi bridge`: run a bridge point's room devices in meetings without a browser.

Exit codes: 0 after SIGINT/SIGTERM, 2 for bad arguments or configuration, sources or outputs
that cannot be opened, or a token that belongs to another point (one line on stderr).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from bridge.agent import run_agent
from bridge.config import AgentConfig, build_config
from bridge.shutdown import start_watchdog
from bridge.texts import AgentError, say
from clitext import Parser


def parser() -> argparse.ArgumentParser:
    p = Parser(prog="hoinghi bridge", description=say("help_description"))
    p.add_argument("--config", type=Path, help=say("help_config"))
    for option in ("server", "point", "token_file", "video", "audio", "audio_out", "record", "display", "ca_file"):
        p.add_argument("--" + option.replace("_", "-"), help=say("help_" + option))
    p.add_argument("--max-backoff", type=float, help=say("help_max_backoff"))
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help=say("help_log_level"))
    return p


def load(argv: list[str]) -> tuple[AgentConfig, str]:
    args = vars(parser().parse_args(argv))
    config_file, level = args.pop("config"), args.pop("log_level")
    return build_config(args, config_file), level


async def _serve(config: AgentConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping() -> None:
        if not stop.is_set():
            logging.getLogger("hoinghi.bridge").info(say("stopping"))
            stop.set()
            start_watchdog()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping)
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
    logging.getLogger("hoinghi.bridge").info(say("stopped"))
    # Everything the agent opened is closed by now. Python's own teardown of aiortc, PyAV and
    # numpy took 1-22 s more on the loaded test machine, and systemd waits for the process.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
