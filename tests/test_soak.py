"""The soak test's short variant (bench/soak.py runs the long one): jobs in a row, then two analysts at once."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.colorize import ColorizeOptions
from core.model.checkpoints import save_checkpoint, untrained_model
from core.model.networks import GeneratorConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.soak import soak

pytestmark = pytest.mark.slow


def test_short_soak_holds_steady(tmp_path):
    checkpoint = save_checkpoint(tmp_path / "model.pt", untrained_model(GeneratorConfig(ngf=4), seed=0).generator)
    report = soak(tmp_path, jobs=12, users=2, checkpoint=checkpoint, options=ColorizeOptions(),
                  sizes=((360, 240), (240, 360)), reference="library")
    assert report.failed_jobs == []
    assert report.outputs_identical == report.outputs_checked == 14  # byte-identical to `sarcolor colorize`
    assert report.histories_own_only
    warm, last = report.after_job[3], report.after_job[11]
    assert last.fds <= warm.fds, "open file descriptors grew from job 4 to job 12"
    # Python threads: the OS count of a pytest process also moves with other tests' threads ending (a browser's)
    assert last.python_threads <= warm.python_threads, "threads grew from job 4 to job 12"
    assert all(r.partials == 0 for r in report.after_job)
    after_burst = report.after_job[-1]
    assert after_burst.fds <= warm.fds and after_burst.python_threads <= warm.python_threads
    assert last.rss_mb < warm.rss_mb * 1.25, (warm.rss_mb, last.rss_mb)
