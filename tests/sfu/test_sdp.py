"""What the SFU reads from a browser's publish offer."""

from sfu.sdp import media_sections

CHROME_LIKE_OFFER = """v=0
o=- 1 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0 1 2
m=audio 9 UDP/TLS/RTP/SAVPF 111
a=mid:0
a=sendonly
a=msid:stream mic-track
a=ssrc:1001 cname:x
a=ssrc:1001 msid:stream mic-track
m=video 9 UDP/TLS/RTP/SAVPF 96 97
a=mid:1
a=sendonly
a=msid:stream cam-track
a=ssrc-group:FID 2001 2002
a=ssrc:2001 cname:x
a=ssrc:2002 cname:x
m=video 0 UDP/TLS/RTP/SAVPF 96
a=mid:2
a=inactive
"""


def test_sections_give_ssrcs_rtx_pairs_directions_and_track_ids():
    audio, video, stopped = media_sections(CHROME_LIKE_OFFER)
    assert (audio.kind, audio.mid, audio.ssrcs, audio.msid_track) == ("audio", "0", [1001], "mic-track")
    assert video.ssrcs == [2001] and video.rtx == {2002: 2001} and video.sending
    assert not stopped.sending and stopped.port == 0
