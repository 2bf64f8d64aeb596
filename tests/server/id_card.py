"""A photographed identity card made from a real portrait, for registration tests.

The card's layout is synthetic (no real document is used): a plain card with a header band, a
few lines of text and the portrait printed small at the left, then "photographed": warped by
a perspective onto a background, slightly blurred, with sensor noise, as a phone or a kiosk
camera sees a card laid on a desk. The portrait itself is a real photo.
"""

from __future__ import annotations

import cv2
import numpy as np

from facegate.types import BBox, ImageArray


def portrait_crop(photo: ImageArray, box: BBox) -> ImageArray:
    """The passport-style crop around ``box`` (head and shoulders, 3:4)."""
    cx, cy = box.center
    half_w = box.width * 0.95
    top, bottom = (
        int(max(cy - box.height * 1.2, 0)),
        int(min(cy + box.height * 1.3, photo.shape[0])),
    )
    left, right = int(max(cx - half_w, 0)), int(min(cx + half_w, photo.shape[1]))
    return np.ascontiguousarray(photo[top:bottom, left:right])


def id_card(portrait: ImageArray, portrait_height: int = 150) -> ImageArray:
    """An 856x540 card (ID-1 proportions) with the portrait ``portrait_height`` px high."""
    card = np.full((540, 856, 3), (226, 232, 240), np.uint8)
    card[:70] = (40, 70, 130)
    cv2.putText(card, "IDENTITY CARD", (240, 48), cv2.FONT_HERSHEY_SIMPLEX, 1.3, (255, 255, 255), 3)
    h, w = portrait.shape[:2]
    small = cv2.resize(portrait, (int(w * portrait_height / h), portrait_height),
                       interpolation=cv2.INTER_AREA)  # fmt: skip
    y, x = 110, 40
    card[y : y + small.shape[0], x : x + small.shape[1]] = small
    for k, line in enumerate(("SURNAME  EXAMPLE", "GIVEN NAMES  SAMPLE", "BORN  01.01.1980",
                              "NO.  X1234567", "EXPIRES  01.01.2031")):  # fmt: skip
        cv2.putText(card, line, (300, 140 + 60 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.9, (30, 30, 30), 2)
    return card


def photographed(
    card: ImageArray, seed: int = 0, size: tuple[int, int] = (1280, 960)
) -> ImageArray:
    """``card`` seen by a camera: perspective, background, blur and noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    background = np.full((h, w, 3), (120, 95, 70), np.uint8)
    ch, cw = card.shape[:2]
    scale = 0.75 * w / cw
    x0, y0 = (w - cw * scale) / 2, (h - ch * scale) / 2
    corners = np.float32([[x0, y0], [x0 + cw * scale, y0], [x0 + cw * scale, y0 + ch * scale],
                          [x0, y0 + ch * scale]])  # fmt: skip
    jitter = rng.uniform(-0.04, 0.04, (4, 2)).astype(np.float32) * np.float32(
        [cw * scale, ch * scale]
    )
    src = np.float32([[0, 0], [cw, 0], [cw, ch], [0, ch]])
    m = cv2.getPerspectiveTransform(src, corners + jitter)
    out = cv2.warpPerspective(card, m, (w, h), dst=background, borderMode=cv2.BORDER_TRANSPARENT)
    out = cv2.GaussianBlur(out, (3, 3), 0.8)
    noisy = out.astype(np.int16) + rng.normal(0, 4, out.shape).astype(np.int16)
    return np.ascontiguousarray(np.clip(noisy, 0, 255).astype(np.uint8))


def jpeg(rgb: ImageArray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])  # fmt: skip
    return bytes(buf)
