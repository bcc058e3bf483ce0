"""A Kaldi model of a few kilobytes that the real libvosk loads: it hears tone bursts as words.

No pretrained model can be downloaded on a build or test machine, yet the pipeline must run
the real recogniser. This model is the smallest thing libvosk accepts (format facts in
docs/transcription.md): the acoustic "network" maps each frame's log-energy to two pdfs
(silence, sound) and the graph emits one word per stretch of sound. So silence gives no
words, each burst gives one word, with start and end times that follow the burst, and
endpointing, partial results and word confidences all work as with a real model.
The word is a "sound" phone followed by a one-frame "tail" phone (scored as silence) that
carries the word label: like a real recogniser, the model knows the word only once it has
heard its end, so caption latency is measured from the end of speech.
"""
from __future__ import annotations

import math
import struct
from pathlib import Path

WORD = "chào"  # what every burst is heard as
SILENCE_PHONE, SOUND_PHONE, TAIL_PHONE = 1, 2, 3
# Transition ids of the one-state topology below (self-loop first in the topology).
SIL_LOOP, SIL_FORWARD, SOUND_LOOP, SOUND_FORWARD, TAIL_LOOP, TAIL_FORWARD = 1, 2, 3, 4, 5, 6
# Frame log-energy (Kaldi: log of the sum of squared int16 samples over 25 ms) where sound
# begins: about -50 dBFS RMS, well above Opus's comfort noise and below any speech.
ENERGY_THRESHOLD = 14.0
SLOPE = 0.5  # log-likelihood per unit of log-energy away from the threshold
WORD_PENALTY = 4.0  # graph cost of starting a word, so a click is not a word

_MODEL_CONF = """\
--min-active=20
--max-active=200
--beam=10.0
--lattice-beam=4.0
--acoustic-scale=1.0
--frame-subsampling-factor=3
--endpoint.silence-phones={sil}
--endpoint.rule2.min-trailing-silence=0.3
--endpoint.rule3.min-trailing-silence=0.6
--endpoint.rule4.min-trailing-silence=1.0
"""

_MFCC_CONF = """\
--sample-frequency=16000
--use-energy=true
--num-mel-bins=10
--num-ceps=1
--dither=0
--energy-floor=1.0
"""

_TOPOLOGY = """\
<Topology>
<TopologyEntry>
<ForPhones> {sil} {sound} {tail} </ForPhones>
<State> 0 <PdfClass> 0 <Transition> 0 0.5 <Transition> 1 0.5 </State>
<State> 1 </State>
</TopologyEntry>
</Topology>
"""


def _final_mdl() -> str:
    half = math.log(0.5)
    transitions = (
        "<TransitionModel>\n" + _TOPOLOGY.format(sil=SILENCE_PHONE, sound=SOUND_PHONE, tail=TAIL_PHONE)
        # the tail phone is scored as silence (pdf 0): it is the first quiet frame after the sound
        + f"<Triples> 3\n{SILENCE_PHONE} 0 0\n{SOUND_PHONE} 0 1\n{TAIL_PHONE} 0 0\n</Triples>\n"
        # One entry per transition id plus the unused id 0.
        + f"<LogProbs>\n [ 0 {' '.join([str(half)] * 6)} ]\n</LogProbs>\n</TransitionModel>\n"
    )
    # output = W * [log-energy] + b: silence falls and sound rises with the energy.
    network = (
        "<Nnet3> \n"  # the space before the newline matters to Kaldi's reader
        "input-node name=input dim=1\n"
        "component-node name=energy component=energy input=input\n"
        "output-node name=output input=energy objective=linear\n"
        "\n"
        "<NumComponents> 1\n"
        "<ComponentName> energy <FixedAffineComponent> "
        f"<LinearParams> [\n {-SLOPE}\n {SLOPE} ]\n"
        f"<BiasParams> [ {SLOPE * ENERGY_THRESHOLD} {-SLOPE * ENERGY_THRESHOLD} ]\n"
        "</FixedAffineComponent>\n"
        "</Nnet3>\n"
        "<LeftContext> 0 <RightContext> 0 <Priors> [ ]\n"
    )
    return transitions + network


def _vector_fst(start: int, finals: dict[int, float], arcs: list[tuple[int, int, int, float, int]]) -> bytes:
    """OpenFst's "vector" binary layout, little-endian; arcs are (state, ilabel, olabel, cost, next)."""
    def string(s: str) -> bytes:
        return struct.pack("<i", len(s)) + s.encode()

    states = 1 + max([start, *finals, *(a[0] for a in arcs), *(a[4] for a in arcs)])
    out = bytearray(struct.pack("<i", 2125659606) + string("vector") + string("standard"))
    out += struct.pack("<iiQqqq", 2, 0, 0x3, start, states, len(arcs))  # version, flags, properties
    for state in range(states):
        mine = [a for a in arcs if a[0] == state]
        out += struct.pack("<fq", finals.get(state, math.inf), len(mine))
        for _, ilabel, olabel, cost, nxt in mine:
            out += struct.pack("<iifi", ilabel, olabel, cost, nxt)
    return bytes(out)


def _hclg() -> bytes:
    # States: 0 start, 1 in silence, 2 in sound, 3 after the word's tail. A phone is its
    # forward transition followed by self-loops (Kaldi's "reorder" convention, which word
    # alignment assumes); the tail has no self-loop: exactly one frame. The word label sits on
    # the tail, so no path shows the word before the sound has ended. A stream that stops
    # mid-burst still ends on its word: the best path into a final state takes the tail on
    # the last frame.
    word = 1
    arcs = [
        (0, SIL_FORWARD, 0, 0.0, 1), (0, SOUND_FORWARD, 0, WORD_PENALTY, 2),
        (1, SIL_LOOP, 0, 0.0, 1), (1, SOUND_FORWARD, 0, WORD_PENALTY, 2),
        (2, SOUND_LOOP, 0, 0.0, 2), (2, TAIL_FORWARD, word, 0.0, 3),
        (3, SIL_FORWARD, 0, 0.0, 1), (3, SOUND_FORWARD, 0, WORD_PENALTY, 2),
    ]
    return _vector_fst(0, {0: 0.0, 1: 0.0, 3: 0.0}, arcs)


def write_tiny_model(directory: Path) -> Path:
    """Write the model's files into `directory` (created) and return it."""
    for sub in ("am", "conf", "graph/phones"):
        (directory / sub).mkdir(parents=True, exist_ok=True)
    (directory / "conf/model.conf").write_text(_MODEL_CONF.format(sil=SILENCE_PHONE))
    (directory / "conf/mfcc.conf").write_text(_MFCC_CONF)
    (directory / "am/final.mdl").write_text(_final_mdl())
    (directory / "graph/HCLG.fst").write_bytes(_hclg())
    (directory / "graph/words.txt").write_text(f"<eps> 0\n{WORD} 1\n", encoding="utf-8")
    (directory / "graph/phones/word_boundary.int").write_text(f"{SILENCE_PHONE} nonword\n{SOUND_PHONE} begin\n{TAIL_PHONE} end\n")
    return directory
