"""The warm-start server: a job forked from it runs as it would in its own process, and stops as it would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import interruptible
from stylepipe.jobs import warm

TESTS = Path(__file__).resolve().parent


def _with_tests(pythonpath: str | None) -> str:
    """PYTHONPATH with the tests folder first, so that the server and launchers can import warm_jobs."""
    return os.pathsep.join(filter(None, [str(TESTS), pythonpath]))


def _env(address: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != warm.SOCKET_ENV}
    env["PYTHONPATH"] = _with_tests(env.get("PYTHONPATH"))
    env["WARM_TEST_VARIABLE"] = "from the launcher"
    if address:
        env[warm.SOCKET_ENV] = address
    return env


def _launch(address: str | None, cwd: Path, *call: object, **kwargs: object) -> subprocess.Popen:
    """A Snakemake script's process: run_job with the job's log, module, function and arguments."""
    code = f"from stylepipe.jobs.warm import run_job\nrun_job(*{call!r}, **{kwargs!r})\n"
    return subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=_env(address), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _wait_until(condition, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _start_server(monkeypatch, preload: tuple[str, ...]) -> tuple[subprocess.Popen, str]:
    """A server for this test process, with the tests folder importable; its address, kept out of our environment."""
    monkeypatch.setenv("PYTHONPATH", _with_tests(os.environ.get("PYTHONPATH")))
    monkeypatch.delenv(warm.SOCKET_ENV, raising=False)
    process = warm.start_server(os.getpid(), preload=preload)
    return process, os.environ.pop(warm.SOCKET_ENV)


@pytest.fixture
def server(monkeypatch):
    process, address = _start_server(monkeypatch, ("torch", "warm_jobs"))
    yield process, address
    warm.stop_server(process)
    process.wait(timeout=60)


def test_a_job_runs_in_a_child_of_the_server_in_the_launchers_folder_and_environment(server, tmp_path):
    process, address = server
    out, log = tmp_path / "where.json", tmp_path / "logs" / "job.log"
    launcher = _launch(address, tmp_path, str(log), "warm_jobs", "where_am_i", str(out), note="warm")
    _, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode == 0 and stderr == "", stderr
    ran = json.loads(out.read_text())
    assert ran["ppid"] == process.pid and ran["pid"] != launcher.pid
    assert (ran["cwd"], ran["variable"], ran["note"], ran["torch"]) == (str(tmp_path), "from the launcher", "warm", True)
    text = log.read_text()
    assert text.startswith("started ") and "warm start: forked from the job server" in text
    assert "where_am_i wrote its file" in text and "\nfinished " in text


def test_without_a_server_the_job_runs_in_the_launcher(tmp_path):
    out, log = tmp_path / "where.json", tmp_path / "job.log"
    launcher = _launch(str(tmp_path / "no-such-socket"), tmp_path, str(log), "warm_jobs", "where_am_i", str(out), note="cold")
    _, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode == 0, stderr
    ran = json.loads(out.read_text())
    assert ran["pid"] == launcher.pid and ran["torch"] is False
    assert "warm start" not in log.read_text()


def test_errors_come_back_as_they_would_from_the_job_itself(server, tmp_path):
    _, address = server
    clean = _launch(address, tmp_path, str(tmp_path / "clean.log"), "warm_jobs", "fails_cleanly", "style.png")
    _, stderr = clean.communicate(timeout=120)
    assert clean.returncode == 1
    assert stderr.strip() == "stylepipe: style.png: not a readable image (a test)"
    assert "error: style.png: not a readable image (a test)" in (tmp_path / "clean.log").read_text()
    bug = _launch(address, tmp_path, str(tmp_path / "bug.log"), "warm_jobs", "fails_with_a_bug")
    _, stderr = bug.communicate(timeout=120)
    assert bug.returncode == 1 and "ZeroDivisionError: a bug" in stderr and "Traceback" in stderr


def test_ctrl_c_reaches_the_job_and_a_killed_launcher_stops_it(server, tmp_path):
    _, address = server
    for how in (signal.SIGINT, signal.SIGKILL):
        out_dir, pid_path, log = tmp_path / f"out-{how.name}", tmp_path / f"{how.name}.pid", tmp_path / f"{how.name}.log"
        launcher = _launch(address, tmp_path, str(log), "warm_jobs", "writes_slowly", str(out_dir), str(pid_path))
        assert _wait_until(lambda: pid_path.exists() and pid_path.read_text() and list(tmp_path.glob(f".{out_dir.name}.tmp-*/*")))
        job = int(pid_path.read_text())
        assert job != launcher.pid and _alive(job)
        launcher.send_signal(how)
        _, stderr = launcher.communicate(timeout=60)
        assert launcher.returncode == -how
        assert _wait_until(lambda: not _alive(job), 10), f"the job ran on after {how.name} to its launcher"
        assert not out_dir.exists()
        if how == signal.SIGINT:
            # KeyboardInterrupt ran the job's cleanup, as in a job of its own: no scratch folder is left.
            assert not list(tmp_path.glob(f".{out_dir.name}.tmp-*"))
            assert "KeyboardInterrupt" in stderr
        else:
            assert "script process has gone; this job stops too" in log.read_text()


def test_the_server_leaves_when_asked_or_when_snakemake_has_gone(tmp_path):
    code = (
        "import os, sys, time\n"
        "from stylepipe.jobs import warm\n"
        "server = warm.start_server(os.getpid(), preload=())\n"
        "print(server.pid, os.environ[warm.SOCKET_ENV], flush=True)\n"
        "if sys.argv[1] == 'stop':\n"
        "    while not os.path.exists(os.environ[warm.SOCKET_ENV]):\n"
        "        time.sleep(0.01)\n"
        "    warm.stop_server(server)\n"
        "    print(server.wait(timeout=30), warm.SOCKET_ENV in os.environ, flush=True)\n"
        "os._exit(0)  # as kill -9 would: no chance to stop the server\n"
    )
    for how in ("stop", "vanish"):
        result = subprocess.run([sys.executable, "-c", code, how], capture_output=True, text=True, timeout=60, check=True)
        lines = result.stdout.split("\n")
        pid, address = lines[0].split()
        if how == "stop":  # (the script stops it once it listens)
            assert lines[1] == "0 False"
        assert _wait_until(lambda: not _alive(int(pid)), 10), f"the server stayed after '{how}'"
        assert not Path(address).parent.exists(), "its socket folder is removed"


def test_a_server_whose_imports_initialized_cuda_leaves_and_jobs_run_on_their_own(monkeypatch, tmp_path):
    process, address = _start_server(monkeypatch, ("torch", "warm_cuda_initialized"))
    process.wait(timeout=120)  # it leaves by itself, before taking a job
    assert not Path(address).exists()
    out, log = tmp_path / "where.json", tmp_path / "job.log"
    launcher = _launch(address, tmp_path, str(log), "warm_jobs", "where_am_i", str(out), note="cold")
    _, stderr = launcher.communicate(timeout=120)
    assert launcher.returncode == 0, stderr
    assert json.loads(out.read_text())["pid"] == launcher.pid
    assert "warm start" not in log.read_text()


def test_a_tmpdir_too_long_for_a_socket_turns_warm_start_off_and_leaves_nothing(tmp_path, monkeypatch):
    long_tmp = tmp_path / ("x" * 60) / ("y" * 60)
    long_tmp.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(long_tmp))
    monkeypatch.setattr(warm.tempfile, "tempdir", None)
    said: list[str] = []
    monkeypatch.delenv(warm.SOCKET_ENV, raising=False)
    assert warm.start_server(os.getpid(), preload=(), log=said.append) is None
    assert len(said) == 1 and "warm start off" in said[0] and "TMPDIR" in said[0]
    assert list(long_tmp.iterdir()) == [] and warm.SOCKET_ENV not in os.environ


def test_without_pidfds_warm_start_is_off_and_says_why(monkeypatch):
    monkeypatch.delattr(warm.os, "pidfd_open")
    said: list[str] = []
    assert warm.start_server(os.getpid(), preload=(), log=said.append) is None
    assert said and "needs Linux" in said[0]


def test_the_socket_listens_before_the_server_has_started(monkeypatch, tmp_path):
    """A job that Snakemake starts at once must find the server, not import torch beside it."""
    process, address = _start_server(monkeypatch, ("torch", "warm_jobs"))
    try:
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.connect(address)  # before the server's Python has even started importing torch
        probe.close()
        out = tmp_path / "where.json"
        launcher = _launch(address, tmp_path, str(tmp_path / "job.log"), "warm_jobs", "where_am_i", str(out), note="first")
        _, stderr = launcher.communicate(timeout=120)
        assert launcher.returncode == 0, stderr
        assert json.loads(out.read_text())["ppid"] == process.pid
    finally:
        warm.stop_server(process)
        process.wait(timeout=60)
    assert not Path(address).exists() and not Path(address).parent.exists()


def test_a_server_that_cannot_listen_says_so_and_leaves_no_folder(tmp_path, monkeypatch):
    class Unbindable(socket.socket):
        def bind(self, address: object) -> None:
            raise PermissionError(13, "Permission denied")

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(warm.tempfile, "tempdir", None)
    monkeypatch.setattr(warm.socket, "socket", Unbindable)
    monkeypatch.delenv(warm.SOCKET_ENV, raising=False)
    said: list[str] = []
    assert warm.start_server(os.getpid(), preload=(), log=said.append) is None
    assert len(said) == 1 and "warm start off: cannot listen" in said[0] and "Permission denied" in said[0]
    assert list(tmp_path.iterdir()) == [] and warm.SOCKET_ENV not in os.environ
