import json
import shutil

import pytest

from autocolor import commands, evaluate


def test_evaluate_writes_every_report(checkpoint, photo_dir, tmp_path, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("chelsea.png", "rocket.jpg"):
        shutil.copy(photo_dir / name, photos / name)
    (photos / "broken.png").write_bytes(b"junk")
    out = tmp_path / "eval"
    assert evaluate.main([str(photos), "-w", str(checkpoint), "-w", str(checkpoint), "-o", str(out)]) == 0
    report = json.loads((out / "summary.json").read_text())
    summary = report["summary"]
    names = list(summary)
    assert names[0] == "gray" and len(names) == 3 and names[2] == names[1] + "'"  # same file twice
    assert summary["gray"]["colourfulness"] == 0 and summary["gray"]["images"] == 2
    assert len(report["failed"]) == 1 and "broken.png" in report["failed"][0]
    for name in ("per_image.csv", "summary.md", "contact_sheet.jpg", "plots.png"):
        assert (out / name).stat().st_size > 0
    assert "ΔPSNR" in capsys.readouterr().out


def test_quick_evaluation_scores_psnr_colourfulness_and_share_improved(
    checkpoint, photo_dir, tmp_path, capsys
):
    out = tmp_path / "eval"
    photos = [str(photo_dir / n) for n in ("chelsea.png", "coffee.png")]
    assert evaluate.main([*photos, "-w", str(checkpoint), "-o", str(out), "--quick"]) == 0
    summary = json.loads((out / "summary.json").read_text())["summary"]  # strict JSON: no NaN
    model = summary[list(summary)[1]]
    assert model["images"] == 2 and model["improved"] in (0.0, 0.5, 1.0) and summary["gray"]["improved"] == 0
    assert model["delta_e2000"] is None and model["psnr"] > 0  # not computed by --quick
    printed = capsys.readouterr().out
    assert not (out / "plots.png").exists() and "evaluation//" not in printed
    assert "nan" not in printed and "| – |" in printed


def test_evaluation_decodes_as_the_flags_say(checkpoint, photo_dir, tmp_path):
    photo = str(photo_dir / "coffee.png")

    def colour(*flags) -> float:
        out = tmp_path / "-".join(flags or ("default",))
        assert evaluate.main([photo, "-w", str(checkpoint), "-o", str(out), "--quick", *flags]) == 0
        summary = json.loads((out / "summary.json").read_text())["summary"]
        return summary[list(summary)[1]]["colourfulness"]

    assert colour("--fade", "0,0.96", "--boost", "3") > colour("--fade", "0,0.96", "--boost", "1") > 0
    with pytest.raises(SystemExit):
        evaluate.main([photo, "--fade", "1,0.5"])


def test_evaluate_fails_when_nothing_can_be_scored(checkpoint, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert commands.main(["evaluate", str(empty), "-w", str(checkpoint), "-o", str(tmp_path / "r1")]) == 1
    assert commands.main(["evaluate", str(tmp_path / "missing"), "-o", str(tmp_path / "r2")]) == 2
    assert "missing: no such file or folder" in capsys.readouterr().err
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.png").write_bytes(b"not a png")
    assert (
        commands.main(["evaluate", str(bad), "-w", str(checkpoint), "-o", str(tmp_path / "r3"), "--quick"])
        == 1
    )
