"""Tests for facegate.imageio: formats, sources, orientation, conversions, limits and errors."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageFile, ImageOps

from facegate import imageio
from facegate.config import ImageLimits
from facegate.errors import (
    ConfigError,
    CorruptImageError,
    EmptyImageError,
    ImageError,
    ImageReadError,
    ImageTooLargeError,
    ImageTooSmallError,
    UnsupportedImageError,
)
from facegate.imageio import decode, encode_jpeg, read_bytes, swap_red_blue, write_image
from facegate.types import ImageArray

FORMATS = ["png", "jpg", "webp", "bmp"]
LOSSLESS = {"png", "webp", "bmp"}


def _pattern(height: int = 48, width: int = 64) -> ImageArray:
    """A smooth RGB test image with a white block in the top-left corner (to see rotations)."""
    ys, xs = np.mgrid[0:height, 0:width]
    image = np.stack([xs * 255 // width, ys * 255 // height, (xs + ys) % 256], axis=-1)
    image = image.astype(np.uint8)
    image[:12, :16] = 255
    return image


def _encode_pil(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _forbid(monkeypatch: pytest.MonkeyPatch, target: object, name: str) -> None:
    """Make ``target.name`` fail the test if it is called."""

    def fail(*args: object, **kwargs: object) -> None:
        pytest.fail(f"{name} was called: the image should have been refused earlier")

    monkeypatch.setattr(target, name, fail)


@pytest.fixture(scope="module")
def png_bomb() -> bytes:
    """A valid 50000x50000 1-bit PNG: ~300 KB on disk, 2.5 gigapixels (~7.5 GB as RGB)."""
    side = 50_000
    row = b"\x00" * (1 + side // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row * 1000) for _ in range(side // 1000))
    idat += compressor.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


# --- formats and sources ---------------------------------------------------------------------


@pytest.mark.parametrize("ext", FORMATS)
def test_each_format_round_trips_through_a_file(tmp_path: Path, ext: str) -> None:
    original = _pattern()
    path = tmp_path / f"pattern.{ext}"
    write_image(path, original)
    decoded = decode(path)
    assert decoded.dtype == np.uint8 and decoded.shape == original.shape
    assert decoded.flags.c_contiguous and decoded.flags.writeable
    if ext in LOSSLESS:
        np.testing.assert_array_equal(decoded, original)
    else:
        assert np.abs(decoded.astype(int) - original).mean() < 4


def test_path_bytes_and_buffers_decode_the_same(tmp_path: Path) -> None:
    path = tmp_path / "pattern.png"
    write_image(path, _pattern())
    data = path.read_bytes()
    expected = decode(path)
    for source in (str(path), data, bytearray(data), memoryview(data)):
        np.testing.assert_array_equal(decode(source), expected)


def test_real_photo_matches_opencv(examples: Path) -> None:
    decoded = decode(examples / "obama.jpg")
    bgr = cv2.imread(str(examples / "obama.jpg"))
    assert bgr is not None
    reference = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    assert decoded.shape == reference.shape
    assert np.abs(decoded.astype(int) - reference).max() <= 2


def test_unsupported_source_type_is_refused() -> None:
    with pytest.raises(UnsupportedImageError, match="source type list"):
        decode([[0, 1], [2, 3]])  # type: ignore[arg-type]


# --- EXIF orientation ------------------------------------------------------------------------


def _jpeg_with_orientation(image: ImageArray, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _encode_pil(Image.fromarray(image), "JPEG", quality=95, exif=exif.tobytes())


def test_jpeg_orientation_6_is_turned_clockwise() -> None:
    stored = _pattern(48, 64)  # white block top-left as stored
    upright = decode(_jpeg_with_orientation(stored, 6))
    assert upright.shape == (64, 48, 3)
    # Turning clockwise moves the stored top-left corner to the top-right.
    assert upright[:16, -12:].mean() > 240
    assert upright[:16, :12].mean() < 200


def test_jpeg_orientation_3_is_turned_upside_down() -> None:
    upright = decode(_jpeg_with_orientation(_pattern(48, 64), 3))
    assert upright.shape == (48, 64, 3)
    assert upright[-12:, -16:].mean() > 240
    assert upright[:12, :16].mean() < 200


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_matches_pillow_exif_transpose(orientation: int) -> None:
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = _encode_pil(Image.fromarray(_pattern(40, 60)), "PNG", exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data)).convert("RGB")))
    decoded = decode(data)
    np.testing.assert_array_equal(decoded, expected)
    assert decoded.flags.c_contiguous


def test_webp_orientation_is_applied() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    stored = _pattern(40, 60)
    data = _encode_pil(Image.fromarray(stored), "WEBP", lossless=True, exif=exif.tobytes())
    np.testing.assert_array_equal(decode(data), np.rot90(stored, k=-1))


# --- pixel conversions -----------------------------------------------------------------------


def test_grayscale_becomes_three_equal_channels() -> None:
    gray = _pattern()[..., 0]
    decoded = decode(_encode_pil(Image.fromarray(gray), "PNG"))
    assert decoded.shape == (*gray.shape, 3)
    for channel in range(3):
        np.testing.assert_array_equal(decoded[..., channel], gray)


def test_sixteen_bit_grayscale_keeps_the_high_byte() -> None:
    wide = (np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) * 21).astype(np.uint16)
    data = _encode_pil(Image.fromarray(wide), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    decoded = decode(data)
    np.testing.assert_array_equal(decoded[..., 1], (wide >> 8).astype(np.uint8))


def test_alpha_is_composited_on_white() -> None:
    rgba = np.zeros((32, 32, 4), np.uint8)  # black everywhere
    rgba[:, :16, 3] = 255  # left half opaque, right half fully transparent
    rgba[:16, 16:, 3] = 128  # top right half transparent
    decoded = decode(_encode_pil(Image.fromarray(rgba), "PNG"))
    assert decoded.shape == (32, 32, 3)
    assert (decoded[:, :16] == 0).all()
    assert (decoded[16:, 16:] == 255).all()
    assert (np.abs(decoded[:16, 16:].astype(int) - 127) <= 1).all()


def test_gray_alpha_and_palette_transparency_are_composited() -> None:
    la = Image.fromarray(np.zeros((20, 20, 2), np.uint8), "LA")  # black, fully transparent
    assert (decode(_encode_pil(la, "PNG")) == 255).all()
    palette = Image.fromarray(np.zeros((20, 20), np.uint8), "P")
    palette.putpalette([10, 20, 30] * 256)
    decoded = decode(_encode_pil(palette, "PNG", transparency=0))
    assert (decoded == 255).all()


def test_opaque_palette_and_one_bit_images_become_rgb() -> None:
    palette = Image.fromarray(np.zeros((20, 20), np.uint8), "P")
    palette.putpalette([10, 20, 30] + [0, 0, 0] * 255)
    assert (decode(_encode_pil(palette, "PNG")) == [10, 20, 30]).all()
    one_bit = Image.new("1", (20, 20), 1)
    assert (decode(_encode_pil(one_bit, "BMP")) == 255).all()


# --- arrays ----------------------------------------------------------------------------------


def test_rgb_uint8_array_is_returned_without_a_copy() -> None:
    image = _pattern()
    assert decode(image) is image


def test_array_layouts() -> None:
    gray = _pattern()[..., 0]
    expected_gray = np.repeat(gray[..., None], 3, axis=2)
    np.testing.assert_array_equal(decode(gray), expected_gray)
    np.testing.assert_array_equal(decode(gray[..., None]), expected_gray)
    rgba = np.dstack([_pattern(), np.full(gray.shape, 255, np.uint8)])
    np.testing.assert_array_equal(decode(rgba), _pattern())
    strided = _pattern()[:, ::-1]
    decoded = decode(strided)
    assert decoded.flags.c_contiguous
    np.testing.assert_array_equal(decoded, strided)


def test_float_array_in_unit_range_is_scaled() -> None:
    image = _pattern()
    decoded = decode(image.astype(np.float64) / 255.0)
    np.testing.assert_array_equal(decoded, image)


@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.full((32, 32, 3), 2.0, np.float32), r"\[0, 1\]"),
        (np.full((32, 32, 3), np.nan, np.float32), r"\[0, 1\]"),
        (np.zeros((32, 32, 3), np.int32), "dtype int32"),
        (np.zeros((32, 32, 3), np.uint16), "dtype uint16"),
        (np.zeros((32, 32, 3), bool), "dtype bool"),
        (np.zeros((32, 32, 2), np.uint8), "shape"),
        (np.zeros((2, 32, 32, 3), np.uint8), "shape"),
    ],
)
def test_unusable_arrays_are_refused(array: npt.NDArray[Any], match: str) -> None:
    with pytest.raises(UnsupportedImageError, match=match):
        decode(array)


def test_zero_size_array_is_empty() -> None:
    with pytest.raises(EmptyImageError):
        decode(np.zeros((0, 10, 3), np.uint8))


def test_limits_apply_to_arrays() -> None:
    with pytest.raises(ImageTooSmallError):
        decode(np.zeros((1, 1, 3), np.uint8))
    with pytest.raises(ImageTooLargeError):
        decode(_pattern(), ImageLimits(max_pixels=100))


# --- bad input -------------------------------------------------------------------------------


def test_empty_bytes_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(EmptyImageError, match="0 bytes"):
        decode(b"")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(EmptyImageError):
        decode(empty)


def test_truncated_real_jpeg_is_corrupt(examples: Path) -> None:
    data = (examples / "obama.jpg").read_bytes()
    # Pillow with LOAD_TRUNCATED_IMAGES would fill the rest with gray; facegate must not.
    assert not ImageFile.LOAD_TRUNCATED_IMAGES
    with pytest.raises(CorruptImageError, match="truncated"):
        decode(data[: len(data) // 2])


def test_truncated_png_and_webp_are_corrupt() -> None:
    noisy = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    for fmt in ("PNG", "WEBP"):
        data = _encode_pil(Image.fromarray(noisy), fmt)
        with pytest.raises(CorruptImageError):
            decode(data[: len(data) // 2])


def test_damaged_header_is_corrupt() -> None:
    with pytest.raises(CorruptImageError):
        decode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)


def test_text_file_is_not_an_image(tmp_path: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("name,email\nsomeone,someone@example.org\n", encoding="utf-8")
    with pytest.raises(UnsupportedImageError, match=r"not an image \(.*text"):
        decode(text)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (_encode_pil(Image.new("RGB", (32, 32)), "GIF"), "GIF"),
        (_encode_pil(Image.new("RGB", (32, 32)), "TIFF"), "TIFF"),
        (bytes(range(256)) * 4, "not an image"),
    ],
)
def test_other_formats_are_unsupported(data: bytes, match: str) -> None:
    with pytest.raises(UnsupportedImageError, match=match):
        decode(data)


def test_one_pixel_image_is_too_small() -> None:
    with pytest.raises(ImageTooSmallError, match="1x1"):
        decode(_encode_pil(Image.new("RGB", (1, 1)), "PNG"))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="^file not found: .*missing.jpg$"):
        decode(tmp_path / "missing.jpg")
    with pytest.raises(ImageReadError, match="directory"):
        decode(tmp_path)


# --- limits ----------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", FORMATS)
def test_pixel_limit_is_checked_from_the_header(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ext: str
) -> None:
    path = tmp_path / f"pattern.{ext}"
    write_image(path, _pattern(48, 64))
    assert decode(path, ImageLimits(max_pixels=48 * 64)).shape == (48, 64, 3)
    _forbid(monkeypatch, Image, "open")  # refused from facegate's own header read
    with pytest.raises(ImageTooLargeError, match="64x48"):
        decode(path, ImageLimits(max_pixels=48 * 64 - 1))


def _variants() -> list[tuple[str, bytes]]:
    image = Image.fromarray(_pattern(37, 53))
    exif = Image.Exif()
    exif[0x0112] = 1
    return [
        ("JPEG", _encode_pil(image, "JPEG")),
        ("JPEG", _encode_pil(image, "JPEG", progressive=True, exif=exif.tobytes())),
        ("JPEG", _encode_pil(image.convert("L"), "JPEG")),
        ("PNG", _encode_pil(image.convert("P"), "PNG")),
        ("WEBP", _encode_pil(image, "WEBP")),  # lossy: VP8
        ("WEBP", _encode_pil(image, "WEBP", lossless=True)),  # VP8L
        ("WEBP", _encode_pil(image, "WEBP", exif=exif.tobytes())),  # extended: VP8X
        ("BMP", _encode_pil(image, "BMP")),
        ("BMP", _encode_pil(image.convert("1"), "BMP")),
    ]


@pytest.mark.parametrize(("fmt", "data"), _variants())
def test_header_size_agrees_with_pillow(fmt: str, data: bytes) -> None:
    assert imageio._header_size(fmt, data) == (53, 37) == Image.open(io.BytesIO(data)).size


def test_png_bomb_is_refused_before_decoding(
    png_bomb: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(png_bomb) < 1_000_000
    _forbid(monkeypatch, ImageFile.ImageFile, "load")
    with pytest.raises(ImageTooLargeError, match="50000x50000"):
        decode(png_bomb)
    # With a limit too generous to stop it, Pillow's own bomb check still refuses it.
    with pytest.raises(ImageTooLargeError, match="decompression-bomb"):
        decode(png_bomb, ImageLimits(max_pixels=10**10))


def test_webp_bomb_header_is_refused_before_pillow_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    # A VP8X header claiming a 16384x16384 canvas: Pillow's WebP decoder allocates it on open.
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00" * 4 + (16383).to_bytes(3, "little") * 2
    data = b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x
    _forbid(monkeypatch, Image, "open")
    with pytest.raises(ImageTooLargeError, match="16384x16384"):
        decode(data)


def test_jpeg_frame_header_claiming_a_huge_size_is_refused(
    examples: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = bytearray((examples / "obama.jpg").read_bytes())
    with Image.open(examples / "obama.jpg") as original:
        width, height = original.size
    # The last baseline frame header: the EXIF thumbnail inside APP1 has one too, and the
    # entropy-coded data after the frame header cannot hold an unescaped 0xFF.
    sof = data.rindex(b"\xff\xc0\x00\x11\x08")
    assert struct.unpack(">HH", data[sof + 5 : sof + 9]) == (height, width)
    data[sof + 5 : sof + 9] = struct.pack(">HH", 60000, 60000)
    _forbid(monkeypatch, Image, "open")
    with pytest.raises(ImageTooLargeError, match="60000x60000"):
        decode(bytes(data))


def test_byte_limit_for_bytes_and_files(tmp_path: Path) -> None:
    path = tmp_path / "pattern.png"
    write_image(path, _pattern())
    data = path.read_bytes()
    small = ImageLimits(max_bytes=len(data) - 1)
    for source in (data, memoryview(data), path):
        with pytest.raises(ImageTooLargeError, match="bytes"):
            decode(source, small)
    with pytest.raises(ImageTooLargeError):
        read_bytes(path, small)
    assert read_bytes(path, ImageLimits(max_bytes=len(data))) == data


def test_error_messages_are_one_line_without_image_data(tmp_path: Path) -> None:
    cases: list[Any] = [
        b"",
        b"GIF89a" + b"\x00" * 64,
        b"\xff\xd8\xff\xe0" + b"\xab" * 64,
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR" + b"\xab" * 40,
        tmp_path / "a\nb.jpg",
        np.zeros((4, 4, 7), np.uint8),
    ]
    for source in cases:
        with pytest.raises(ImageError) as caught:
            decode(source)
        message = str(caught.value)
        assert message and "\n" not in message
        assert "\\xab" not in message and "\xab" not in message


# --- encoding helpers ------------------------------------------------------------------------


def test_encode_jpeg_round_trip() -> None:
    data = encode_jpeg(_pattern(), quality=95)
    assert data.startswith(b"\xff\xd8\xff")
    assert np.abs(decode(data).astype(int) - _pattern()).mean() < 4
    assert len(encode_jpeg(_pattern(), quality=10)) < len(data)


def test_encoding_helpers_refuse_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        encode_jpeg(_pattern(), quality=0)
    with pytest.raises(UnsupportedImageError):
        encode_jpeg(_pattern().astype(np.float32))
    with pytest.raises(UnsupportedImageError, match=".gif"):
        write_image(tmp_path / "out.gif", _pattern())


def test_module_exports() -> None:
    assert set(imageio.__all__) == {
        "ImageSource",
        "decode",
        "encode_jpeg",
        "read_bytes",
        "write_image",
    }


def _declare_taller(data: bytes, factor: float) -> bytes:
    """``data`` with its JPEG frame header claiming ``factor`` times the real height."""
    out, i = bytearray(data), 2
    while out[i + 1] not in (0xC0, 0xC1, 0xC2):
        i += 2 + int.from_bytes(out[i + 2 : i + 4], "big")
    height = int.from_bytes(out[i + 5 : i + 7], "big")
    out[i + 5 : i + 7] = int(height * factor).to_bytes(2, "big")
    return bytes(out)


def test_jpeg_declaring_more_rows_than_its_data_is_truncated(examples: Path) -> None:
    data = (examples / "obama.jpg").read_bytes()
    for factor in (1.1, 2.0):
        with pytest.raises(CorruptImageError, match="truncated"):
            decode(_declare_taller(data, factor))
    assert decode(data).shape[0] == 1137  # the real image still decodes


def test_swap_red_blue_is_a_new_array_with_the_channels_reversed() -> None:
    image = _pattern()
    swapped = swap_red_blue(image)
    np.testing.assert_array_equal(swapped, image[:, :, ::-1])
    assert swapped.flags["C_CONTIGUOUS"] and not np.shares_memory(swapped, image)
    view = image[::2, 1::3]  # a strided view is handled too
    np.testing.assert_array_equal(swap_red_blue(view), view[:, :, ::-1])
    with pytest.raises(ValueError, match="3\\) image"):
        swap_red_blue(np.zeros((4, 4), np.uint8))
