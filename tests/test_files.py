"""Bad intermediate files, full disks and killed jobs (issue 11, items 4, 6, 7).

Every case uses a real file: HDF5 written by the project's own writers and then
truncated or corrupted, a real full file system (a 64 KiB tmpfs, root only), a
real process killed with SIGTERM or SIGKILL while it writes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import ROOT
from roiroa.h5io import (
    DiskFullError, InputFileError, check_labels, check_range, check_rows, create_h5, open_h5, read_dataset,
    source_commit, stale_tmp_files, tmp_path_of, write_array,
)
from roiroa.runtime import read_json, remove_stale_tmp_files, write_json


def maps_like(path: Path, n: int = 300) -> Path:
    """A small file in the shape of maps.h5, gzip-chunked like every stream."""
    rng = np.random.default_rng(0)
    with create_h5(path, {"what": "test"}) as f:
        write_array(f, "label", (np.arange(n) % 2).astype(np.int64))
        write_array(f, "cam", rng.random((n, 16, 16), dtype=np.float32))
    return path


# ---- HDF5 inputs (item 4) ---------------------------------------------------------


def test_truncated_h5_names_the_file(tmp_path):
    path = maps_like(tmp_path / "maps.h5")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputFileError, match=rf"cannot open maps file {path}: .*truncated"):
        with open_h5(path, "maps"):
            pass


def test_not_hdf5_and_missing_files_are_named(tmp_path):
    text = tmp_path / "regions.h5"
    text.write_text("<html>proxy error</html>")
    with pytest.raises(InputFileError, match=f"cannot open regions file {text}"):
        with open_h5(text, "regions"):
            pass
    with pytest.raises(FileNotFoundError, match=f"data file {tmp_path / 'absent.h5'} does not exist"):
        with open_h5(tmp_path / "absent.h5", "data"):
            pass


def test_corrupt_chunk_names_the_file_and_the_dataset(tmp_path):
    path = maps_like(tmp_path / "maps.h5")
    with h5py.File(path) as f:
        chunk = f["cam"].id.get_chunk_info(0)
    raw = bytearray(path.read_bytes())
    raw[chunk.byte_offset + 16 : chunk.byte_offset + chunk.size - 16] = b"\xff" * (chunk.size - 32)
    path.write_bytes(bytes(raw))
    with open_h5(path, "maps") as f:
        assert read_dataset(f, "label").shape == (300,)  # the rest of the file still reads
        with pytest.raises(InputFileError, match=rf"{path}: cannot read dataset /cam: .*filter returned failure during read"):
            read_dataset(f, "cam", np.s_[0:10])


def test_missing_dataset_lists_what_is_there(tmp_path):
    path = maps_like(tmp_path / "maps.h5")
    with open_h5(path, "maps") as f:
        with pytest.raises(InputFileError, match=rf"{path}: no dataset /x_adv \(the group / holds: cam, label\)"):
            read_dataset(f, "x_adv")
        assert read_dataset(f, "cam", np.s_[2:4]).shape == (2, 16, 16)


def test_content_checks_name_the_file(tmp_path):
    path = tmp_path / "maps.h5"
    check_labels(np.array([0, 1, 1, 0]), path)
    with pytest.raises(InputFileError, match=rf"{path}: label holds 2 of 5 values outside \{{0, 1\}} \(e.g. \[2, 7\], "
                                             r"first at row 1\)"):
        check_labels(np.array([0, 2, 1, 7, 0]), path)
    with pytest.raises(InputFileError, match="one label per image"):
        check_labels(np.zeros((2, 2)), path)
    with pytest.raises(InputFileError, match=r"cam has 2 values outside \[0, 1\] \(0.5..3.0, NaN\)"):
        check_range(np.array([0.5, 3.0, np.nan]), 0, 1, path, "cam")
    maps_like(path, n=10)
    with h5py.File(path, "a") as f:
        f["index"] = np.arange(9)
    with open_h5(path, "maps") as f:
        check_rows(f, ["label", "cam"], 10)
        with pytest.raises(InputFileError, match=rf"{path}: /index has 9 rows, expected 10"):
            check_rows(f, ["label", "index"], 10)


# ---- JSON inputs (item 4) -------------------------------------------------------------


def test_truncated_json_names_the_file(tmp_path):
    path = tmp_path / "scores.json"
    write_json(path, {"params": {"theta": 0.15}, "directions": [{"acc": 0.5}]})
    assert read_json(path)["params"]["theta"] == 0.15
    path.write_text(path.read_text()[:30])
    with pytest.raises(InputFileError, match=rf"{path}: not valid JSON \(.* at line \d+, column \d+\); it is truncated"):
        read_json(path)
    path.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(InputFileError, match=f"{path}: not a text"):
        read_json(path)


def test_the_sweep_rows_name_a_truncated_evaluation_file(tmp_path):
    from roiroa.tables import load_rows

    path = tmp_path / "evaluation.json"
    path.write_text('{"params": {"dataset": "digits"}, "by_theta": [{"params": {"theta": 0.1}, "direct')
    with pytest.raises(InputFileError, match=f"{path}: not valid JSON"):
        load_rows([path])


# ---- a full disk (item 6) ---------------------------------------------------------------


@pytest.fixture
def full_fs(tmp_path):
    """A 64 KiB tmpfs: a real file system that fills up (needs root and mount)."""
    where = tmp_path / "small"
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)],
                             capture_output=True, text=True)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_full_disk_during_model_save_says_so(full_fs):
    import torch

    from roiroa.models import ModelSpec, build_model, save_model

    torch.manual_seed(0)
    model = build_model(ModelSpec(arch="tiny_vgg", input_size=16, hidden=256))  # ~0.6 MB of weights
    path = full_fs / "seed~0" / "model.pt"
    with pytest.raises(DiskFullError, match=rf"no space left on device while writing {path} \("):
        save_model(model, path)
    assert not path.exists() and not list(path.parent.iterdir()), "a partial model or temp file was kept"


def test_full_disk_during_json_write_says_so(full_fs):
    path = full_fs / "scores.json"
    with pytest.raises(DiskFullError, match=f"no space left on device while writing {path}"):
        write_json(path, {"x": "y" * 200_000})
    assert not list(full_fs.iterdir())


def test_full_disk_during_h5_write_says_so(full_fs):
    # in a child process: h5py may crash at exit on a file it could not close
    path = full_fs / "maps.h5"
    code = textwrap.dedent(f"""
        import numpy as np
        from roiroa.h5io import create_h5, write_array
        with create_h5({str(path)!r}, {{}}) as f:
            write_array(f, "cam", np.random.default_rng(0).random((50, 32, 32), dtype=np.float32))
    """)
    result = run_python(code)
    assert result.returncode != 0
    assert f"DiskFullError: [Errno 28] no space left on device while writing {path}" in result.stderr, result.stderr
    assert not list(full_fs.iterdir())


# ---- killed jobs (item 7) --------------------------------------------------------------


def run_python(code: str, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120, **kwargs)


WRITER = """
import sys, time
import numpy as np
from roiroa.h5io import create_h5, create_stream
from roiroa.runtime import start_job
out, log, ready = sys.argv[1:4]
start_job(log, [out])
with create_h5(out, {}) as f:
    stream = create_stream(f, "x_adv", 100_000, (8, 8), np.float32)
    for start in range(0, 100_000, 100):
        stream[start:start + 100] = np.random.default_rng(start).random((100, 8, 8), dtype=np.float32)
        f.flush()
        if start == 1000:
            open(ready, "w").close()
        time.sleep(0.02)
"""


def start_writer(tmp_path: Path) -> tuple[subprocess.Popen, Path, Path]:
    out = tmp_path / "seed~0" / "maps.h5"
    log, ready = tmp_path / "writer.log", tmp_path / "ready"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(log), str(ready)], env=env)
    deadline = time.monotonic() + 180  # generous: a loaded machine starts Python slowly
    while not ready.exists():
        assert process.poll() is None, log.read_text() if log.exists() else "writer died"
        assert time.monotonic() < deadline, "the writer never got going"
        time.sleep(0.05)
    return process, out, log


def test_sigterm_mid_write_removes_the_temp_file(tmp_path):
    process, out, log = start_writer(tmp_path)
    tmp = tmp_path_of(out, process.pid)
    assert tmp.exists() and tmp.stat().st_size > 0  # mid-write
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=180) == 128 + signal.SIGTERM
    assert not tmp.exists() and not out.exists()
    assert not stale_tmp_files(out)
    assert "stopped by signal 15 (SIGTERM)" in log.read_text()


def test_next_job_removes_what_a_sigkill_left(tmp_path):
    process, out, log = start_writer(tmp_path)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    left = tmp_path_of(out, process.pid)
    assert stale_tmp_files(out) == [left]  # SIGKILL cannot be caught: the file stays ...
    other = out.with_name(".maps.h5.tmpx")  # not the convention: kept
    other.write_text("x")
    (out.parent / "sibling.h5").write_text("x")
    # ... until the next job for the same output starts
    code = f"from roiroa.runtime import start_job; start_job({str(tmp_path / 'rerun.log')!r}, [{str(out)!r}])"
    assert run_python(code).returncode == 0
    assert not left.exists() and other.exists() and (out.parent / "sibling.h5").exists()
    assert f"removed stale temporary file {left}" in (tmp_path / "rerun.log").read_text()


def test_stale_cleanup_only_touches_the_outputs_own_temp_files(tmp_path):
    out = tmp_path / "a" / "scores.json"
    out.parent.mkdir()
    gone = [finished_pid(), finished_pid()]
    stale = [out.with_name(f".scores.json.tmp{gone[0]}"), out.with_name(f".scores.json.tmp{gone[1]}@{socket.gethostname()}")]
    keep = [out.with_name(".scores.json.tmp"), out.with_name(".scores.json.old"),
            out.with_name(".other.json.tmp123"), out.with_name("scores.json.tmp123")]  # fmt: skip
    for path in stale + keep:
        path.write_text("{")
    out.write_text("{}")
    assert sorted(remove_stale_tmp_files([str(out), str(tmp_path / "absent" / "x.h5")])) == sorted(stale)
    assert all(p.exists() for p in keep) and out.exists() and not any(p.exists() for p in stale)


def finished_pid() -> int:
    """The PID of a process that has exited (no process of this machine has it now)."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


@pytest.mark.slow
def test_a_rerun_beside_a_live_writer_leaves_its_temp_file_alone(tmp_path):
    """After Snakemake is killed its job may go on; the rerun's job for the same
    output must not delete the live writer's file (issue 20: it did, 11 s into the write)."""
    process, out, log = start_writer(tmp_path)
    live = tmp_path_of(out, process.pid)
    code = f"from roiroa.runtime import start_job; start_job({str(tmp_path / 'rerun.log')!r}, [{str(out)!r}])"
    assert run_python(code).returncode == 0
    assert live.exists() and f"left temporary file {live} alone" in (tmp_path / "rerun.log").read_text()
    assert process.wait(timeout=300) == 0 and out.exists()  # the writer finished and renamed its file


def test_a_temp_file_of_a_reused_pid_or_of_another_machine(tmp_path):
    out = tmp_path / "model.pt"
    # this process's PID, on a file last changed before this process started: a writer long gone
    reused = tmp_path_of(out)
    reused.write_text("x")
    os.utime(reused, (1e9, 1e9))
    # another machine: its processes cannot be checked here; stale only when untouched for a day
    fresh, old = tmp_path_of(out, 123, "node-a"), tmp_path_of(out, 456, "node-b")
    fresh.write_text("x")
    old.write_text("x")
    os.utime(old, (time.time() - 2 * 24 * 3600,) * 2)
    assert stale_tmp_files(out) == sorted([reused, old])
    fresh_here = tmp_path_of(out)
    fresh_here.write_text("x")  # this live process, written now: its own
    assert fresh_here not in stale_tmp_files(out)


def test_a_full_disk_is_the_last_line_of_the_job_log(full_fs, tmp_path):
    """h5py's finalizers printed "Exception ignored ... Disable slist on flush dest
    failure failed" (or crashed) after the DiskFullError; the job now ends on it."""
    path, log = full_fs / "maps.h5", tmp_path / "job.log"
    code = textwrap.dedent(f"""
        import numpy as np
        from roiroa.h5io import create_h5, write_array
        from roiroa.runtime import start_job
        start_job({str(log)!r}, [{str(path)!r}])
        with create_h5({str(path)!r}, {{}}) as f:
            write_array(f, "cam", np.random.default_rng(0).random((50, 32, 32), dtype=np.float32))
    """)
    result = run_python(code)
    assert result.returncode == 1
    last = log.read_text().strip().splitlines()[-1]
    assert last.startswith(f"roiroa.h5io.DiskFullError: [Errno 28] no space left on device while writing {path} ")
    assert last.endswith("Free space or move results/ elsewhere, then rerun")
    assert not list(full_fs.iterdir())


def test_every_rule_script_passes_its_outputs_to_start_job():
    for script in sorted((ROOT / "scripts").glob("*.py")):
        text = script.read_text()
        calls = [line for line in text.splitlines() if "start_job(" in line or "start_torch_job(" in line]
        calls = [line for line in calls if not line.lstrip().startswith(("from ", "import ", "#"))]
        assert calls, f"{script.name} does not call start_job"
        assert all("snakemake.output" in line for line in calls), f"{script.name}: {calls}"


def test_write_json_is_atomic_and_readable(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"a": [1, 2]})
    # the payload, and the commit that wrote it (what a page checks for modified code)
    assert json.loads(path.read_text()) == {"a": [1, 2], "source_commit": source_commit()}
    assert not stale_tmp_files(path)


# ---- damaged files named by their checked readers (issue 20) ---------------------


def saved_model(path: Path) -> Path:
    import torch  # noqa: F401

    from roiroa.models import ModelSpec, build_model, save_model

    save_model(build_model(ModelSpec(arch="tiny_vgg", input_size=16, hidden=8)), path)
    return path


def test_a_model_cut_in_half_is_named(tmp_path):
    from roiroa.models import load_model

    path = saved_model(tmp_path / "model.pt")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputFileError, match=rf"{path}: cannot read the model checkpoint \(.*\); it is truncated "
                                             r"or corrupt .*delete it and run the workflow again"):
        load_model(path)


def test_a_model_replaced_by_another_file_is_named_without_unsafe_advice(tmp_path):
    import pickle

    import torch

    from roiroa.models import load_model

    path = tmp_path / "model.pt"
    for other in (
        lambda: torch.save({"spec": {}, "state_dict": {}, "where": tmp_path}, path),  # an object: not weights only
        lambda: path.write_bytes(pickle.dumps([1, 2])),  # a plain pickle, no torch file
        lambda: path.write_text('{"seed": 0}\n'),  # another stage's JSON copied over it
    ):
        other()
        with pytest.raises(InputFileError) as err:
            load_model(path)
        assert str(err.value).startswith(f"{path}: "), str(err.value)
        assert "weights_only" not in str(err.value) and "delete it and run the workflow again" in str(err.value)
    torch.save([1, 2], path)  # weights only, but not a checkpoint
    with pytest.raises(InputFileError, match=rf"{path}: a torch file, but not a model checkpoint .*found list"):
        load_model(path)


def regions_like(path: Path) -> Path:
    """A file in the shape figures read from regions.h5: classes, labels, and the
    class representatives of each source class."""
    rng = np.random.default_rng(0)
    with create_h5(path, {"what": "test"}) as f:
        f.attrs["classes"] = ["0", "1"]
        write_array(f, "label", np.array([0, 1, 0, 1]))
        for source in ("0", "1"):
            group = f.create_group(f"representatives/{source}")
            group.attrs["ssim"] = 0.5
            for name in ("roi", "roa", "ubar_v"):
                group.create_dataset(name, data=rng.random((8, 8)))
    return path


def test_figures_name_a_regions_file_with_a_damaged_block(tmp_path):
    """figures_regions and figures_blob read regions.h5 through roiroa.h5io, so a
    damaged B-tree (a group's index of its members) names the file and the group."""
    from roiroa import figures as fg

    path = regions_like(tmp_path / "regions.h5")
    assert fg.read_representatives(path, "0", "1")[1:] == (0.5, 2)
    raw = bytearray(path.read_bytes())
    last_btree = raw.rfind(b"TREE")  # the index of the last group written: representatives/1
    raw[last_btree : last_btree + 4] = b"XXXX"
    path.write_bytes(bytes(raw))
    assert fg.read_representatives(path, "0", "1")[1:] == (0.5, 2)  # the rest still reads
    with pytest.raises(InputFileError, match=rf"{path}: cannot read group /representatives/1: .*wrong B-tree "
                                             r"signature.*delete it and run the workflow again"):
        fg.read_representatives(path, "1", "0")


@pytest.mark.parametrize("name,payload,problem", [
    ("calibration.json", {}, "the top level has no key 'params' (it holds: nothing)"),
    ("evaluation.json", [1, 2], "the top level is a list, expected an object with the keys params, by_theta"),
    ("evaluation.json", {"params": {}, "by_theta": [{"params": {}, "directions": 3}]},
     "by_theta[0].directions is a number, expected a list"),
    ("theta.json", {"params": {}, "theta": "0.3"}, "theta is a string, expected a number"),
    ("sweep_scores.json", {"inputs": [], "rows": [[1]]}, "rows[0] is a list, expected an object"),
])
def test_a_json_of_the_wrong_shape_is_named(tmp_path, name, payload, problem):
    path = tmp_path / name
    path.write_text(json.dumps(payload))
    with pytest.raises(InputFileError) as err:
        read_json(path)
    assert str(err.value) == (f"{path}: not what the workflow writes there: {problem}; delete it and run the "
                              f"workflow again, which rewrites it")


def test_json_of_the_right_shape_reads(tmp_path):
    path = tmp_path / "theta.json"
    write_json(path, {"params": {"seed": 0}, "theta": 0.15, "inputs": []})
    assert read_json(path)["theta"] == 0.15


def test_training_names_a_damaged_data_file(tmp_path):
    """rule train reads data.h5 through roiroa.data, which uses the checked readers."""
    from roiroa.data import read_classes, read_pair

    path = tmp_path / "data.h5"
    with create_h5(path, {}) as f:
        f.attrs["classes"] = json.dumps(["0", "1"])
        group = f.create_group("train")
        write_array(group, "images", np.zeros((300, 1, 8, 8), np.float32))
        write_array(group, "labels", np.arange(300) % 2)
    assert read_classes(path) == ("0", "1") and read_pair(path, "train", (0, 1))[0].shape == (300, 1, 8, 8)
    with pytest.raises(InputFileError, match=rf"{path}: no dataset /test/labels"):
        read_pair(path, "test", (0, 1))
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(InputFileError, match=f"cannot open prepared data file {path}"):
        read_classes(path)


def test_a_published_page_does_not_make_the_next_run_modified_code(tmp_path):
    """`make publish-digits-eps && make publish-digits-attacks`: the first page's files
    (docs/, README's blocks) were uncommitted while the second page's jobs ran, and the
    old rule recorded every one of those jobs as '+dirty' (the second page was then
    refused). A change to code still counts."""
    from roiroa.h5io import checkout_commit

    def git(*args):
        subprocess.run(["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t", *args],
                       check=True, capture_output=True)  # fmt: skip

    for name in ("src/roiroa/stage.py", "docs/results/page.md", "README.md", "docs-notes.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("first\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "first")
    clean = checkout_commit(tmp_path)
    assert not clean.endswith("+dirty")
    (tmp_path / "docs/results/page.md").write_text("published\n")
    (tmp_path / "README.md").write_text("overview block rewritten\n")
    assert checkout_commit(tmp_path) == clean
    (tmp_path / "docs-notes.txt").write_text("not under docs/\n")
    assert checkout_commit(tmp_path) == clean + "+dirty"
    (tmp_path / "docs-notes.txt").write_text("first\n")
    (tmp_path / "src/roiroa/stage.py").write_text("changed code\n")
    assert checkout_commit(tmp_path) == clean + "+dirty"
