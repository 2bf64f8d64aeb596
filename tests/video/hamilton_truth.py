"""Who is where in the Hamilton clip (`short_hamilton_clip.mp4`), looked up frame by frame:
the labels that the identity test and `bench/video_identity.py` both score tracks against."""

from __future__ import annotations

from collections.abc import Sequence

LIN, ALEX, ALEX_PROFILE = "lin-manuel-miranda", "alex-lacamoire", "alex-lacamoire (profile)"
# shots of the clip (scene cuts at frames 20, 82 and 211) and who is where in them
STAGE_WIDE, AUDIENCE_1, STAGE_CLOSE, AUDIENCE_2 = (0, 20), (20, 82), (82, 211), (211, 275)


def who(frame: int, box: Sequence[float]) -> str | None:
    """Who a track is, from where and when it starts (looked up frame by frame): Miranda (short
    hair, dark suit) singing on the right of the wide stage shot and in the close-up; Lacamoire
    (curly hair, beard, grey jacket, light blue shirt) at the piano on the far left of the wide
    shot (about 30 px), and in profile filling the right of the first audience shot, where the
    camera looks past him at the audience; anything else (audience, a raised hand) is nobody
    enrolled."""
    centre_x, centre_y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    if STAGE_WIDE[0] <= frame < STAGE_WIDE[1]:
        if 480 <= centre_x <= 620 and centre_y < 150:
            return LIN
        if centre_x < 150 and 150 <= centre_y <= 260:
            return ALEX
        return None
    if STAGE_CLOSE[0] <= frame < STAGE_CLOSE[1]:
        return LIN
    if AUDIENCE_1[0] <= frame < AUDIENCE_1[1] and (box[2] >= 600 or box[3] - box[1] >= 150):
        return ALEX_PROFILE
    return None
