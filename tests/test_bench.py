"""The map-stage benchmark runs from a clean checkout (tiny sizes; no timing asserted)."""

import re
import subprocess
import sys

from conftest import ROOT


def test_map_stage_benchmark_runs_and_reports_every_variant():
    cmd = [sys.executable, str(ROOT / "bench" / "map_stage.py"), "--n", "8", "--per-image-n", "2",
           "--batch", "4", "--repeats", "1", "--threads", "1"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = re.findall(r"^\| \((a|b|c|d)\) .*\| ([0-9.]+) \| ([0-9.]+)× \|$", result.stdout, flags=re.M)
    assert [r[0] for r in rows] == ["a", "b", "c", "d"], result.stdout
    assert all(float(rate) > 0 for _, rate, _ in rows)
    assert "roiroa vs bare" in result.stdout
