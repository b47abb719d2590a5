"""Walk the whole robustness corpus through the library and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from corpus import Entry, build_bad_checkpoints, build_corpus

from core import errors
from core.cli import main as cli_main
from core.colorize import ColorizeOptions, colorize
from core.model.checkpoints import load_checkpoint, save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig
from core.samples import build_samples

ROOT = Path(__file__).resolve().parent.parent
SMALL = GeneratorConfig(ngf=8, depth=6)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[Entry]:
    return build_corpus(tmp_path_factory.mktemp("corpus"), build_samples()[0].sar)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_checkpoint(tmp_path_factory.mktemp("model") / "small.pt", untrained_model(SMALL).generator)


def _leftovers(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir()]


def test_corpus_is_large_and_has_both_classes(corpus: list[Entry]) -> None:
    assert len(corpus) >= 30
    assert {e.outcome for e in corpus} == {"refuse", "work"}


def _ids(entries: list[Entry]) -> list[str]:
    return [e.name for e in entries]


def test_refused_inputs_raise_documented_errors_and_leave_nothing(corpus, checkpoint, tmp_path) -> None:
    model = load_checkpoint(checkpoint)
    failures = []
    for entry in (e for e in corpus if e.outcome == "refuse"):
        out_dir = tmp_path / entry.name.replace(".", "_")
        out_dir.mkdir()
        try:
            colorize(entry.path, out_dir / "result.tif", model)
            failures.append(f"{entry.name}: accepted")
        except errors.SarColorError as exc:
            if not isinstance(exc, entry.error):
                failures.append(f"{entry.name}: {type(exc).__name__} instead of {entry.error.__name__}: {exc}")
            elif entry.path.name.split(".")[0] not in str(exc) and entry.path.name not in str(exc):
                failures.append(f"{entry.name}: message does not name the file: {exc}")
        if _leftovers(out_dir):
            failures.append(f"{entry.name}: left {_leftovers(out_dir)}")
    assert not failures, "\n".join(failures)


def test_awkward_inputs_produce_masked_outputs(corpus, checkpoint, tmp_path) -> None:
    model = load_checkpoint(checkpoint)
    options = ColorizeOptions(tile=128, overlap=32)
    for entry in (e for e in corpus if e.outcome == "work"):
        out = tmp_path / f"{abs(hash(entry.name))}.tif"
        result = colorize(entry.path, out, model, options)
        with rasterio.open(out) as dst, rasterio.open(entry.path) as src:
            assert dst.count == 4, entry.name
            assert (dst.width, dst.height) == (result.georef.width, result.georef.height)
            alpha = dst.read(4)
            assert alpha.any(), f"{entry.name}: everything masked"
            assert (dst.crs is not None) == entry.georeferenced, entry.name
            if entry.georeferenced and src.crs is not None:
                assert dst.crs == src.crs and dst.transform.almost_equals(src.transform), entry.name
        assert bool(result.summary.warnings) == (not entry.georeferenced), entry.name
        assert [p.name for p in tmp_path.iterdir() if ".partial-" in p.name] == []


def test_masks_follow_the_nodata(corpus, checkpoint, tmp_path) -> None:
    model = load_checkpoint(checkpoint)
    by_name = {e.name: e for e in corpus}
    colorize(by_name["mostly_nan_99pct.tif"].path, tmp_path / "nan.tif", model)
    with rasterio.open(tmp_path / "nan.tif") as dst:
        assert (dst.read(4) > 0).mean() == pytest.approx(0.01, abs=1e-4)
    colorize(by_name["mostly_nodata_zero_border.tif"].path, tmp_path / "zero.tif", model)
    with rasterio.open(tmp_path / "zero.tif") as dst:
        alpha = dst.read(4)
        assert not alpha[:, :170].any() and not alpha[:30].any() and alpha[30:, 170:].all()


def test_gcp_only_input_is_warped_to_a_georeferenced_grid(corpus, checkpoint, tmp_path) -> None:
    entry = next(e for e in corpus if e.name == "gcp_only_uint16.tif")
    result = colorize(entry.path, tmp_path / "gcp.tif", load_checkpoint(checkpoint))
    assert result.summary.warped_from_gcps and result.summary.encoding == "amplitude"
    with rasterio.open(tmp_path / "gcp.tif") as dst:
        assert dst.crs.to_epsg() == 4326
        left, bottom, right, top = dst.bounds
        assert left == pytest.approx(14.0, abs=1e-3) and top == pytest.approx(48.2, abs=1e-3)
        assert right == pytest.approx(14.012, abs=1e-3) and bottom == pytest.approx(48.188, abs=1e-3)


def test_cli_refuses_each_bad_input_with_one_line(corpus, checkpoint, tmp_path, capsys) -> None:
    for entry in (e for e in corpus if e.outcome == "refuse"):
        out = tmp_path / "cli.tif"
        code = cli_main(["colorize", str(entry.path), str(out), "--model", str(checkpoint), "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2, entry.name
        assert len(err) == 1 and err[0].startswith("error: "), (entry.name, err)
        assert not out.exists() and not [p for p in tmp_path.iterdir() if ".partial-" in p.name]


def test_cli_accepts_each_awkward_input(corpus, checkpoint, tmp_path, capsys) -> None:
    for entry in (e for e in corpus if e.outcome == "work"):
        out = tmp_path / "ok.tif"
        code = cli_main(
            [
                "colorize",
                str(entry.path),
                str(out),
                "--model",
                str(checkpoint),
                "--quiet",
                "--tile",
                "128",
                "--overlap",
                "32",
            ]
        )
        assert code == 0, (entry.name, capsys.readouterr().err)
        assert out.exists()
        out.unlink()


def test_cli_process_prints_no_traceback(corpus, checkpoint, tmp_path) -> None:
    picks = [e for e in corpus if e.name in ("truncated_half.tif", "complex64_slc.tif", "huge_header_100k.tif")]
    for entry in picks:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "core.cli",
                "colorize",
                str(entry.path),
                str(tmp_path / "x.tif"),
                "--model",
                str(checkpoint),
                "--quiet",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.strip().count("\n") == 0, proc.stderr
        assert not (tmp_path / "x.tif").exists()


def test_bad_checkpoints_are_refused(tmp_path, capsys) -> None:
    sample = build_samples()[0].sar
    for bad in build_bad_checkpoints(tmp_path / "ckpt"):
        with pytest.raises(errors.CheckpointError) as info:
            load_checkpoint(bad)
        assert bad.name in str(info.value)
        code = cli_main(["colorize", str(sample), str(tmp_path / "o.tif"), "--model", str(bad), "--quiet"])
        assert code == 2 and capsys.readouterr().err.startswith("error: ")
        assert not (tmp_path / "o.tif").exists()


def test_pixel_limit_is_configuration(corpus, checkpoint, tmp_path, monkeypatch) -> None:
    entry = next(e for e in corpus if e.name == "strip_1x5000.tif")
    monkeypatch.setenv("SARCOLOR_MAX_PIXELS", "4999")
    with pytest.raises(errors.RasterTooLargeError, match=r"4,999|0 Mpx"):
        colorize(entry.path, tmp_path / "limited.tif", load_checkpoint(checkpoint))
    monkeypatch.setenv("SARCOLOR_MAX_PIXELS", "5000")
    colorize(entry.path, tmp_path / "limited.tif", load_checkpoint(checkpoint))
    assert np.count_nonzero(rasterio.open(tmp_path / "limited.tif").read(4)) == 5000
