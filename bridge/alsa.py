"""PulseAudio through the PyAV wheel's own alsa-lib.

The wheel's ffmpeg has ALSA but no PulseAudio input, and its bundled alsa-lib looks for its
configuration and plugins under the prefix it was built in: it finds neither Debian's
alsa.conf nor the PulseAudio plugin (libasound2-plugins); given Debian's alsa.conf it fails
to open even `null` (measured with PyAV 18.1). So ALSA_CONFIG_PATH is pointed at a small
file of ours alone, naming the plugin by its full path and one PCM per PulseAudio device
asked for. An ALSA_CONFIG_PATH the operator set is left alone.
"""
from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

PLUGIN_DIRS = (Path("/usr/lib/x86_64-linux-gnu/alsa-lib"), Path("/usr/lib/aarch64-linux-gnu/alsa-lib"), Path("/usr/lib/alsa-lib"))
PULSE_PLUGIN = "libasound_module_pcm_pulse.so"
_pulse_pcms: dict[str, str] = {}  # PulseAudio device ("" = its default) -> the ALSA PCM defined for it
_conf_dir: Path | None = None


def pulse_pcm(device: str) -> str:
    """The ALSA PCM name that reaches PulseAudio's `device` (source or sink; "" for the default)."""
    if device not in _pulse_pcms:
        _pulse_pcms[device] = f"hoinghi_pulse_{len(_pulse_pcms)}"
        _write()
    return _pulse_pcms[device]


def _write() -> None:
    global _conf_dir
    if "ALSA_CONFIG_PATH" in os.environ and _conf_dir is None:
        return  # the operator's own configuration
    if _conf_dir is None:
        _conf_dir = Path(tempfile.mkdtemp(prefix="hoinghi-alsa-"))
    lines = []
    plugin = next((d / PULSE_PLUGIN for d in PLUGIN_DIRS if (d / PULSE_PLUGIN).exists()), None)
    if plugin is not None:
        lines.append(f'pcm_type.pulse {{ lib "{plugin}" }}')
    for device, pcm in _pulse_pcms.items():
        safe = re.sub(r'["\\\n]', "", device)
        lines.append(f"pcm.{pcm} {{ type pulse" + (f' device "{safe}"' if safe else "") + " }")
    ours = _conf_dir / "asound.conf"
    ours.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.environ["ALSA_CONFIG_PATH"] = str(ours)
