"""The active speaker on the room's own screen: a full-screen window drawn with SDL2 (pygame).

What a commune's IT operator expects of a box wired to the hall's TV: the agent starts, the TV
shows whoever has the floor, full screen, with their name, and says in words when there is
nobody to show or the link is down (a black screen looks broken). No mouse, no window frame.
SDL opens the X11 or Wayland session it is given (`--display :0`, or the session's own
DISPLAY with `--display auto`), or the console's KMS/DRM device when there is none.

SDL wants one thread for its window: the drawing (scaling the picture, SDL's blit) runs in
a thread of its own, never on the event loop that forwards media. It reads the newest frame
of the VideoSwitcher and redraws at most DISPLAY_FPS times a second.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Callable

from bridge.texts import AgentError, say

log = logging.getLogger("hoinghi.bridge.display")
DISPLAY_FPS = 25
LABEL_HEIGHT = 0.06  # of the screen's height: readable from the back of a hall
STARTUP_LIMIT_S = 10.0
INVISIBLE_DRIVERS = ("offscreen", "dummy")
FONTS = "dejavusans,liberationsans,notosans"


def parse_display(spec: str) -> str | None:
    """None for no screen, "" for the session's own display, or an X display name (":0")."""
    spec = spec.strip()
    if spec in ("", "none"):
        return None
    if spec == "auto":
        return ""
    if spec.startswith(":") or (":" in spec and spec.split(":")[-1].replace(".", "").isdigit()):
        return spec
    raise AgentError("input_error", f"--display {spec}", say("bad_display", spec=spec))


class Display:
    """A full-screen window showing `picture()` with `caption()` below it, or `status()` alone."""

    def __init__(self, screen: str, picture: Callable[[], Any], caption: Callable[[], str], status: Callable[[], str]) -> None:
        self._screen, self._picture, self._caption, self._status = screen, picture, caption, status
        self._quit = threading.Event()
        self._ready = threading.Event()
        self._error: str | None = None
        self._thread: threading.Thread | None = None
        self.frames_drawn = 0  # pictures drawn (not counting the status screen), for the logs and tests

    def open(self) -> None:
        """Open the window, or AgentError (no such display, no video driver) before the agent goes on."""
        self._thread = threading.Thread(target=self._run, name="hoinghi-display", daemon=True)
        self._thread.start()
        if not self._ready.wait(STARTUP_LIMIT_S):
            self._error = say("display_timeout")
        if self._error is not None:
            self.close()
            raise AgentError("source_error", f"--display {self._screen or 'auto'}", self._error)

    def close(self) -> None:
        self._quit.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(2.0)

    # ------------------------------------------------------------ the display's thread

    def _run(self) -> None:
        if self._screen:
            os.environ["DISPLAY"] = self._screen  # read by SDL's X11 driver when it starts
            os.environ["SDL_VIDEODRIVER"] = "x11"
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        import pygame  # here: SDL starts in the thread that draws

        try:
            pygame.display.init()
            if pygame.display.get_driver() in INVISIBLE_DRIVERS:  # SDL's last resort: nothing on any screen
                raise pygame.error(say("display_none"))
            pygame.font.init()
            surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN | pygame.NOFRAME)
            pygame.display.set_caption("hoinghi")
            pygame.mouse.set_visible(False)
        except pygame.error as error:
            self._error = say("display_unavailable", reason=str(error))
            self._ready.set()
            return
        width, height = surface.get_size()
        log.info("display %s: %dx%d, driver %s", self._screen or os.environ.get("DISPLAY", "auto"), width, height,
                 pygame.display.get_driver())
        # a system font with Vietnamese (pygame's own has no ế, ộ, ợ…): Debian's fonts-dejavu-core or fonts-liberation2
        font = pygame.font.SysFont(FONTS, max(24, int(height * LABEL_HEIGHT)), bold=True)
        self._ready.set()
        shown: tuple[Any, str, str] | None = None
        try:
            while not self._quit.is_set():
                started = time.monotonic()
                pygame.event.pump()  # the window manager expects it; keys and mouse are ignored
                frame, caption, status = self._picture(), self._caption(), self._status()
                if (frame, caption, status) != shown:
                    shown = (frame, caption, status)
                    surface.fill((0, 0, 0))
                    if frame is not None:
                        self._draw_picture(pygame, surface, frame)
                        self.frames_drawn += 1
                    text = caption if frame is not None else status
                    if text:
                        self._draw_text(pygame, surface, font, text)
                    pygame.display.flip()
                self._quit.wait(max(0.0, 1 / DISPLAY_FPS - (time.monotonic() - started)))
        except Exception:
            log.exception("the display failed")
        finally:
            pygame.display.quit()

    @staticmethod
    def _draw_picture(pygame: Any, surface: Any, frame: Any) -> None:
        """The frame scaled to fit the screen, its aspect kept (black bars), centred."""
        width, height = surface.get_size()
        scale = min(width / frame.width, height / frame.height)
        w, h = max(2, int(frame.width * scale) // 2 * 2), max(2, int(frame.height * scale) // 2 * 2)
        rgb = frame.reformat(width=w, height=h, format="rgb24").to_ndarray()
        image = pygame.image.frombuffer(rgb.tobytes(), (w, h), "RGB")
        surface.blit(image, ((width - w) // 2, (height - h) // 2))

    @staticmethod
    def _draw_text(pygame: Any, surface: Any, font: Any, text: str) -> None:
        """White text on a dark band at the bottom of the screen."""
        width, height = surface.get_size()
        rendered = font.render(text, True, (255, 255, 255))
        band = pygame.Surface((width, rendered.get_height() + 24), pygame.SRCALPHA)
        band.fill((0, 0, 0, 170))
        top = height - band.get_height() - height // 20
        surface.blit(band, (0, top))
        surface.blit(rendered, (max(12, (width - rendered.get_width()) // 2), top + 12))
