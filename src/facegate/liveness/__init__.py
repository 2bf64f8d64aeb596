"""facegate.liveness: is a live person in front of the camera, not a photo or a replay?

- :mod:`facegate.liveness.signals`: pure functions of dlib's 68 landmarks (eye and mouth
  aspect ratios, head pose by ``solvePnP``, face size, planarity).
- :mod:`facegate.liveness.session`: the challenge-response state machine (random challenges,
  nonce, deadline, one face track, order and timing, planarity).
"""

from facegate.liveness.challenges import Challenge, draw_challenges
from facegate.liveness.observe import Observation, observe, observe_frame
from facegate.liveness.session import LivenessSession, SessionPolicy, Status, Verdict, feed

__all__ = [
    "Challenge",
    "LivenessSession",
    "Observation",
    "SessionPolicy",
    "Status",
    "Verdict",
    "draw_challenges",
    "feed",
    "observe",
    "observe_frame",
]
