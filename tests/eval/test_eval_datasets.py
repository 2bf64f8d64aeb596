"""Ground-truth readers: LFW pairs, plain pairs, folders, FDDB, UTKFace."""

from __future__ import annotations

from pathlib import Path

import pytest

from facegate.errors import ConfigError
from facegate.eval import datasets as ds


def test_lfw_pairs_small(tmp_path: Path) -> None:
    text = "2 1\nAlice 1 2\nAlice 3 Bob 12\nBob 1 2\nCarol 1 Dan 1\n"
    (tmp_path / "pairs.txt").write_text(text)
    pairs = ds.read_lfw_pairs(tmp_path / "pairs.txt", tmp_path)
    assert [p.same for p in pairs] == [True, False, True, False]
    assert [p.fold for p in pairs] == [0, 0, 1, 1]
    assert pairs[0].a == tmp_path / "Alice" / "Alice_0001.jpg"
    assert pairs[1].b == tmp_path / "Bob" / "Bob_0012.jpg"


def test_lfw_pairs_count_mismatch(tmp_path: Path) -> None:
    (tmp_path / "pairs.txt").write_text("2 1\nAlice 1 2\n")
    with pytest.raises(ds.DatasetError):
        ds.read_lfw_pairs(tmp_path / "pairs.txt", tmp_path)


def test_plain_pairs_and_autodetect(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("# comment\na.jpg b.jpg 1\nc.jpg d.jpg 0\n")
    pairs = ds.read_pairs(tmp_path / "p.txt", tmp_path)
    assert [(p.a.name, p.b.name, p.same, p.fold) for p in pairs] == [
        ("a.jpg", "b.jpg", True, -1),
        ("c.jpg", "d.jpg", False, -1),
    ]
    (tmp_path / "bad.txt").write_text("a.jpg b.jpg yes\n")
    with pytest.raises(ds.DatasetError, match="bad.txt:1"):
        ds.read_pairs(tmp_path / "bad.txt", tmp_path)


def test_identities(tmp_path: Path) -> None:
    for name in ["b/2.jpg", "b/1.png", "a/x.jpg", "a/notes.txt", "empty/readme"]:
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(b"")
    ids = ds.read_identities(tmp_path)
    assert list(ids) == ["a", "b"]
    assert [p.name for p in ids["b"]] == ["1.png", "2.jpg"]


def test_parse_folds() -> None:
    assert ds.parse_folds("1-5") == [1, 2, 3, 4, 5]
    assert ds.parse_folds("3,1,7-8") == [1, 3, 7, 8]
    for bad in ["0-2", "x", "9-11", ""]:
        with pytest.raises(ConfigError):
            ds.parse_folds(bad)


def test_fddb_skips_absent_images(tmp_path: Path) -> None:
    folds = tmp_path / "FDDB-folds"
    folds.mkdir()
    (folds / "FDDB-fold-01-ellipseList.txt").write_text(
        "2002/a/img_1\n2\n10.0 5.0 1.5 20.0 30.0  1\n8 4 -1.4 60 30  1\n"
        "2002/a/img_2\n1\n10 5 1.5 20 30 1\n"
    )
    pics = tmp_path / "originalPics" / "2002" / "a"
    pics.mkdir(parents=True)
    (pics / "img_1.jpg").write_bytes(b"")
    fddb = ds.read_fddb(tmp_path, [1])
    assert [im.name for im in fddb.images] == ["2002/a/img_1"]
    assert fddb.missing == ["2002/a/img_2"]
    assert fddb.faces == 2
    e = fddb.images[0].ellipses[1]
    assert (e.major_radius, e.minor_radius, e.angle, e.cx, e.cy) == (8, 4, -1.4, 60, 30)


def test_utkface_names(tmp_path: Path) -> None:
    face = ds.parse_utkface_name(Path("26_1_2_20170116174525125.jpg.chip.jpg"))
    assert face is not None and (face.age, face.gender, face.race) == (26, "female", "asian")
    assert ds.parse_utkface_name(Path("39_1_20170116174525125.jpg.chip.jpg")) is None
    assert ds.parse_utkface_name(Path("39_1_9_2017.jpg.chip.jpg")) is None
    for name in ["1_0_0_1.jpg.chip.jpg", "bad.jpg"]:
        (tmp_path / name).write_bytes(b"")
    good, bad = ds.read_utkface(tmp_path)
    assert [g.race for g in good] == ["white"] and [b.name for b in bad] == ["bad.jpg"]


def test_real_lfw_pairs(lfw: Path) -> None:
    pairs = ds.read_lfw_pairs(lfw / "pairs.txt", lfw)
    assert len(pairs) == 6000
    assert sum(p.same for p in pairs) == 3000
    assert {p.fold for p in pairs} == set(range(10))
    assert all(p.a.is_file() and p.b.is_file() for p in pairs[:50])


def test_real_fddb(shared_data: Path) -> None:
    root = shared_data / "fddb"
    if not root.is_dir():
        pytest.skip("FDDB not in shared data")
    fddb = ds.read_fddb(root, [1, 2, 3, 4, 5])
    assert len(fddb.images) > 1000
    listed = sum(
        len((root / "FDDB-folds" / f"FDDB-fold-{k:02d}.txt").read_text().split())
        for k in range(1, 6)
    )
    assert len(fddb.images) + len(fddb.missing) == listed
