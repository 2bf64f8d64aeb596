"""``facegate apps notice|payment|registration|decisions`` (fake engine)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gallery_fakes import FakeEngine

from facegate.cli.main import main
from facegate.gallery.service import Gallery

pytestmark = pytest.mark.usefixtures("fake_gallery_engine")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    code = exit_info.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_notice_sign_account_pin_path_and_decisions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data", str(tmp_path)]
    (tmp_path / "p.toml").write_text('[[purpose]]\nname = "payment"\nretention_days = 30\n')
    assert run(capsys, "privacy", "purposes", "apply", str(tmp_path / "p.toml"), *data)[0] == 0
    code, _, err = run(capsys, "apps", "notice", "show", "payment", *data)
    assert code == 2 and "has no notice" in err and len(err.strip().splitlines()) == 1
    notice = ["--processor", "Shop Ltd", "--contact", "dpo@shop.example", "--alternative", "PIN."]
    code, out, _ = run(capsys, "apps", "notice", "set", "payment", *notice, *data)
    assert code == 0 and "Shop Ltd" in out
    sign = tmp_path / "sign.html"
    assert run(capsys, "apps", "notice", "sign", "payment", "--out", str(sign), *data)[0] == 0
    assert "Face recognition in use" in sign.read_text()
    code, out, _ = run(capsys, "apps", "notice", "sign", "payment", "--format", "text", *data)
    assert out.startswith("FACE RECOGNITION IN USE")
    with Gallery.open(tmp_path, engine=FakeEngine()) as gallery:
        sid = gallery.create_subject("Payer").id
    code, out, err = run(capsys, "apps", "payment", "account", sid, "--phone-last4", "4821",
                         "--pin", "2468", "--json", *data)  # fmt: skip
    assert code == 0, err
    account = json.loads(out)["account_id"]
    code, out, _ = run(capsys, "apps", "payment", "pay-pin", account, "--amount", "9.99",
                       "--pin", "2468", "--json", *data)  # fmt: skip
    assert code == 0 and json.loads(out)["outcome"] == "approve"
    code, _, err = run(capsys, "apps", "payment", "pay-pin", account, "--amount", "-1",
                       "--pin", "2468", *data)  # fmt: skip
    assert code == 2 and "amount" in err
    code, out, _ = run(capsys, "apps", "decisions", "--app", "payment", "--json", *data)
    assert [d["outcome"] for d in json.loads(out)["decisions"]] == ["approve"]
    code, out, _ = run(capsys, "apps", "registration", "point", "--json", *data)
    assert code == 0 and json.loads(out)["operating_point"].startswith("fmr=")
