"""Warm starts: the jobs that run a network fork from one process that has imported torch already.

Importing torch takes 1.3-1.5 s on a 2-core CPU, while the arbitrary-style network renders a 250-frame clip at
320 px in about 4.5 s: every stylise, preview and training job paid a third of its compute before reading a
frame. In a local run Snakemake's `onstart` starts one server, which imports torch and the job modules while the
first jobs decode the clip, and then forks a child for each job. Snakemake still runs and
tracks every job as before: its script process (the launcher) hands the job to the server with its stdin, stdout
and stderr, waits, and exits with the child's status, so caching, resume, logs and errors are unchanged.

- The child runs the same job function, in the launcher's folder and environment, under the same `job_log`.
- Ctrl-C and SIGTERM sent to the launcher are passed on to the child; if the launcher is killed, the child stops.
- Without a server (a cluster job, `warm_start: false`, a server that has gone) the launcher runs the job itself.
- The server never runs a torch op, and never touches CUDA: forking after either is unsafe.

Only the standard library is imported here: the launcher must start fast.
"""

from __future__ import annotations

import importlib
import os
import pickle
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import traceback
from pathlib import Path
from typing import Any, NoReturn

SOCKET_ENV = "STYLEPIPE_WARM_SOCKET"
# The rules whose jobs import torch; the others start in well under a second on their own.
WARM_RULES = frozenset({"stylize_feedforward", "stylize_gatys", "preview", "train"})
PRELOAD = ("torch", "stylepipe.jobs.feedforward", "stylepipe.jobs.gatys", "stylepipe.jobs.preview")
_STANDARD_FDS = (0, 1, 2)
# Bytes in a Unix socket's path: 107 on Linux (sun_path is 108 with its NUL), 103 on the BSDs and macOS.
MAX_SOCKET_PATH = 103
_HEADER = struct.Struct("!Q")
_STATUS = struct.Struct("!i")


def supported() -> str | None:
    """None where warm starts work (Linux: the server waits on its children through pidfds, which macOS and Windows
    lack), else why not."""
    if not hasattr(os, "pidfd_open") or not hasattr(socket, "AF_UNIX") or not hasattr(socket, "send_fds"):
        return f"warm start needs Linux (pidfds and Unix sockets); on {sys.platform} every job imports torch itself"
    return None


def start_server(parent_pid: int, preload: tuple[str, ...] = PRELOAD, log: Any = print) -> subprocess.Popen | None:
    """Start a server for the jobs of the Snakemake process `parent_pid`, and point its future jobs at it; None (and
    one line to `log`) where it cannot run, and the jobs start on their own.

    Its socket listens before this returns, so a job that comes while the server is still starting or importing
    torch waits for it rather than importing torch a second time beside it. It leaves when its parent has gone and its
    last job has finished.
    """
    why_not = supported()
    if why_not:
        log(f"stylepipe: {why_not}")
        return None
    folder = tempfile.mkdtemp(prefix="stylepipe-warm-")  # mode 0700: only this user can hand it a job
    address = os.path.join(folder, "socket")
    if len(os.fsencode(address)) > MAX_SOCKET_PATH:
        os.rmdir(folder)
        log(f"stylepipe: warm start off: the socket path under TMPDIR ({folder}) is longer than Unix sockets allow; "
            "every job imports torch itself (set TMPDIR to a shorter folder to keep it)")
        return None
    # Listening here, before the server has even started Python, means that the first job cannot find the address
    # missing and quietly import torch by itself: it waits in the queue until the server accepts it.
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(address)
        listener.listen(64)
    except OSError as err:
        listener.close()
        Path(address).unlink(missing_ok=True)
        os.rmdir(folder)
        log(f"stylepipe: warm start off: cannot listen at {address} ({err.strerror or err}); every job imports torch itself")
        return None
    command = [sys.executable, "-m", "stylepipe.jobs.warm", address, str(listener.fileno()), str(parent_pid), *preload]
    # The server starts with SIGTERM blocked (a mask survives fork and exec), so that a stop_server that comes before
    # it has set its handler waits for that handler instead of killing it with its socket folder left behind.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    try:
        # Its own session: a Ctrl-C at the terminal reaches the launchers, which pass it on, and not the server.
        server = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True,
                                  pass_fds=(listener.fileno(),))
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        # From here the server holds the only copy: when it goes, queued and later jobs are refused and run alone.
        listener.close()
    os.environ[SOCKET_ENV] = address
    return server


def stop_server(server: subprocess.Popen | None) -> None:
    """Ask the server to leave once its running jobs are done; later jobs of this process run on their own."""
    os.environ.pop(SOCKET_ENV, None)
    if server is not None and server.poll() is None:
        server.terminate()


def run_job(log_path: str, module: str, function: str, *args: Any, **kwargs: Any) -> None:
    """Run `module.function(*args, **kwargs)` as this Snakemake script's job: in a child of the warm server when
    there is one, else here. Arguments must pickle (plain values, not Snakemake's objects)."""
    address = os.environ.get(SOCKET_ENV)
    if address:
        request = {"module": module, "function": function, "args": args, "kwargs": kwargs, "log": log_path,
                   "cwd": os.getcwd(), "env": dict(os.environ)}
        status = _run_in_server(address, request)
        if status is not None:
            _leave(status)
    from stylepipe.jobs.common import job_log

    job = getattr(importlib.import_module(module), function)
    with job_log(log_path):
        job(*args, **kwargs)


def _run_in_server(address: str, request: dict[str, Any]) -> int | None:
    """The child's exit status (negative: the signal that ended it); None when no server took the job."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(address)
        data = _HEADER.pack(len(payload := pickle.dumps(request))) + payload
        sent = socket.send_fds(connection, [data], _usable_standard_fds())
        connection.sendall(data[sent:])
        reply = _receive_exactly(connection, _STATUS.size)
    except OSError:
        return None
    if len(reply) < _STATUS.size:
        return None  # the server went before it forked: nothing ran
    child = _STATUS.unpack(reply)[0]

    def pass_on(signum: int, _frame: object) -> None:
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            pass

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, pass_on)
    reply = _receive_exactly(connection, _STATUS.size)
    if len(reply) < _STATUS.size:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
        print(f"stylepipe: the warm-start server stopped while job {request['function']} ran (pid {child}); "
              "run the same command again", file=sys.stderr, flush=True)
        return 1
    return _STATUS.unpack(reply)[0]


def _usable_standard_fds() -> list[int]:
    fds = []
    for fd in _STANDARD_FDS:
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            fds.append(os.open(os.devnull, os.O_RDWR))
    return fds


def _receive_exactly(connection: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def _leave(status: int) -> NoReturn:
    """End the launcher as the child ended, so that Snakemake sees what it would have seen from the job itself."""
    sys.stdout.flush()
    sys.stderr.flush()
    if status < 0:
        signal.signal(-status, signal.SIG_DFL)
        os.kill(os.getpid(), -status)
    os._exit(status if status >= 0 else 1)


def serve(address: str, listener_fd: int, parent_pid: int, preload: tuple[str, ...]) -> None:
    """Accept jobs on the socket start_server bound until the parent has gone or asks it to stop, then wait for the
    running ones."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda _signum, _frame: stopping.set())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})  # a stop asked for while starting arrives now
    listener = socket.socket(fileno=listener_fd)
    children: dict[int, tuple[int, socket.socket]] = {}  # pidfd: (pid, the launcher's connection)
    try:
        for name in preload:
            importlib.import_module(name)
        if _cuda_initialized():
            # A child could not use CUDA (torch refuses it after a fork); the launchers run their jobs themselves.
            print("stylepipe: the warm-start server found CUDA initialised after its imports; jobs start on their own",
                  file=sys.stderr, flush=True)
            return
        while True:
            accepting = not stopping.is_set() and os.getppid() == parent_pid
            if not accepting and listener.fileno() >= 0:
                listener.close()
            if not accepting and not children:
                break
            waiting = [*children, listener] if accepting else list(children)
            try:
                ready, _, _ = select.select(waiting, [], [], 0.2)
            except InterruptedError:
                continue
            for item in ready:
                if item is listener:
                    _accept(listener, children)
                else:
                    pid, connection = children.pop(item)
                    os.close(item)
                    _, status = os.waitpid(pid, 0)
                    try:
                        connection.sendall(_STATUS.pack(os.waitstatus_to_exitcode(status)))
                    except OSError:
                        pass  # the launcher has gone; its child has stopped too
                    connection.close()
    finally:
        if listener.fileno() >= 0:
            listener.close()
        Path(address).unlink(missing_ok=True)
        try:
            os.rmdir(os.path.dirname(address))
        except OSError:
            pass


def _cuda_initialized() -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and torch.cuda.is_initialized()


def _accept(listener: socket.socket, children: dict[int, tuple[int, socket.socket]]) -> None:
    connection, _ = listener.accept()
    fds: list[int] = []
    try:
        connection.settimeout(10)  # a launcher that connects and says nothing must not hold up the others
        data, fds, _, _ = socket.recv_fds(connection, 1 << 16, len(_STANDARD_FDS))
        if len(data) < _HEADER.size or len(fds) != len(_STANDARD_FDS):
            raise OSError("incomplete request")
        size = _HEADER.unpack(data[: _HEADER.size])[0]
        data = data[_HEADER.size :]
        data += _receive_exactly(connection, size - len(data))
        if len(data) < size:
            raise OSError("incomplete request")
        request = pickle.loads(data)
        connection.settimeout(None)
    except (OSError, pickle.UnpicklingError, EOFError):
        for fd in fds:
            os.close(fd)
        connection.close()  # the launcher reads no child and runs the job itself
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _run_child(listener, children, connection, fds, request)
    for fd in fds:
        os.close(fd)
    try:
        connection.sendall(_STATUS.pack(pid))
    except OSError:
        pass  # the child finds the launcher gone and stops
    children[os.pidfd_open(pid)] = (pid, connection)


def _run_child(listener: socket.socket, children: dict[int, tuple[int, socket.socket]], connection: socket.socket,
               fds: list[int], request: dict[str, Any]) -> NoReturn:
    status = 1
    try:
        listener.close()
        for pidfd, (_, other) in children.items():
            os.close(pidfd)
            other.close()
        for target, fd in zip(_STANDARD_FDS, fds):
            os.dup2(fd, target)
            os.close(fd)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        threading.Thread(target=_stop_when_launcher_leaves, args=(connection,), name="stop-when-launcher-leaves",
                         daemon=True).start()
        status = _call(request)
    except BaseException:  # noqa: BLE001 - the child must end here, whatever happened
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def _call(request: dict[str, Any]) -> int:
    from stylepipe.jobs.common import job_log

    job = getattr(importlib.import_module(request["module"]), request["function"])
    try:
        with job_log(request["log"]):
            print(f"warm start: forked from the job server (pid {os.getppid()}), which had imported torch", file=sys.stderr)
            job(*request["args"], **request["kwargs"])
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        # As a job run in its own process would: end by the signal, after its cleanup has run.
        traceback.print_exc()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return 0


def _stop_when_launcher_leaves(connection: socket.socket) -> None:
    """The launcher sends nothing after its job, so anything read here means it has gone (kill -9)."""
    try:
        connection.recv(1)
    except OSError:
        pass
    print("error: the job's Snakemake script process has gone; this job stops too", file=sys.stderr, flush=True)
    os._exit(1)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), tuple(sys.argv[4:]))
