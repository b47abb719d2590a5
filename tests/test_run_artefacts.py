"""The run artefacts: what the training loop writes is what the readers get back, by the same names."""

from __future__ import annotations

from pathlib import Path

from core.records.artefacts import (
    JsonLinesLog,
    ModelsFolder,
    RecordKind,
    RunFolder,
    config_record,
    epoch_record,
    read_records,
    records_of,
    run_facts,
    step_record,
    val_metric,
)


def test_log_writer_and_tolerant_reader_round_trip(tmp_path: Path) -> None:
    log = JsonLinesLog(tmp_path / "train.jsonl")
    records = [
        config_record({"name": "tiny", "batch": 2}, run_facts({}, [0.3, 0.3, 0.25]), world_size=1, bf16=False),
        step_record(1, 0.5, 1.5, {"g_l1": 0.4, "d_real": 0.7}, lr_g=2e-4, lr_d=None, images_per_s=3.0),
        epoch_record(1, 2, 3.0, {"volkov": {"psnr": 14.0, "ssim": 0.3}, "sen12": {"psnr": 12.0, "ssim": 0.1}}),
    ]
    for record in records:
        log.write(record)
    with open(log.path, "a") as handle:
        handle.write('{"kind": "step", "step": 3, "g_')  # a line still being written
    assert read_records(log.path) == records
    [epoch] = records_of(read_records(log.path), RecordKind.EPOCH)
    assert epoch[val_metric("psnr")] == 13.0 and epoch[val_metric("ssim", "sen12")] == 0.1
    assert list(epoch)[-4:] == ["val_psnr_volkov", "val_ssim_volkov", "val_psnr_sen12", "val_ssim_sen12"]
    log.restart()
    assert read_records(log.path) == []


def test_disabled_log_writes_nothing(tmp_path: Path) -> None:
    log = JsonLinesLog(tmp_path / "train.jsonl", enabled=False)  # DDP ranks other than 0
    log.write(step_record(1, 0.5, 1.5, {}, 2e-4, 2e-4, 3.0))
    assert not log.path.exists()


def test_folder_names(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "runs" / "a")
    assert run.train_log.name == "train.jsonl" and run.best_checkpoint.name == "best.pt"
    assert run.sample_grid(3) == run.samples_dir / "epoch_003.png"
    models = ModelsFolder(tmp_path / "models")
    assert models.names() == []
    models.path.mkdir()
    models.checkpoint("b").touch()
    models.training_log("a").touch()  # a run in progress has only a log
    models.checkpoint("default").touch()
    assert models.names() == ["default", "a", "b"]
    assert models.eval.grid("b", "val") == models.path / "eval" / "b_val.png"
