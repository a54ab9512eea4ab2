"""A real one-node SLURM (slurmctld, slurmd and, if none runs, munged) in a scratch folder, for the cluster test.

State, spool, logs and pid files live in the scratch folder. slurm.conf and gres.conf are also installed in
/etc/slurm for the time the node is up (any files already there are set aside and put back): the Snakemake job
step runs `srun` with every SLURM_* variable removed, SLURM_CONF included, so only the default path reaches it.
The node advertises fake GPUs (character
devices like /dev/null), so that `gpu` requests schedule; a job then sees CUDA_VISIBLE_DEVICES but no CUDA, and
`device: auto` falls back to the CPU. Only the daemons started here are stopped. Facts: ../shared/CLUSTER.md.

    with one_node_slurm(Path("/tmp/slurm")) as env:
        subprocess.run(["sbatch", "--wrap", "true"], env=env)
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MUNGE_KEY = Path("/etc/munge/munge.key")
SYSTEM_CONFIG = Path("/etc/slurm")
MUNGE_SOCKET_DIR = Path("/run/munge")
# Not SLURM's default ports, so that a SLURM already running on the machine is left alone.
CONTROLLER_PORT, NODE_PORT = 16817, 16818


class ClusterUnavailable(RuntimeError):
    """What is missing for a one-node SLURM here (not root, no slurm-wlm or munge installed)."""


def missing_requirements() -> list[str]:
    missing = [tool for tool in ("slurmctld", "slurmd", "munged", "sbatch", "squeue", "sinfo")
               if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()]
    if os.geteuid() != 0:
        missing.append("root (the daemons run as root here)")
    return missing


def _tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _node_line() -> str:
    """The first line of `slurmd -C` (CPUs, boards, sockets, cores, threads), with a little memory held back."""
    line = subprocess.run([_tool("slurmd"), "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    memory = int(re.search(r"RealMemory=(\d+)", line).group(1))
    return re.sub(r"RealMemory=\d+", f"RealMemory={int(memory * 0.9)}", line)


def _write_config(folder: Path, host: str, gpus: int) -> Path:
    node = _node_line().replace(f"NodeName={socket.gethostname()}", f"NodeName={host}")
    conf = folder / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=stylepipe-test",
        f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={CONTROLLER_PORT}",
        f"SlurmdPort={NODE_PORT}",
        "SlurmUser=root",
        "AuthType=auth/munge",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "MpiDefault=none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "AccountingStorageType=accounting_storage/none",
        "JobAcctGatherType=jobacct_gather/none",
        # Finished jobs stay visible to squeue, which the plugin polls instead of sacct (no slurmdbd here).
        "MinJobAge=600",
        "ReturnToService=2",
        "GresTypes=gpu",
        f"StateSaveLocation={folder / 'state'}",
        f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
        f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}",
        f"SlurmdLogFile={folder / 'slurmd.log'}",
        f"{node} NodeAddr=127.0.0.1 Gres=gpu:{gpus}",
        "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
        "",
    ]))
    devices = []
    for number in range(gpus):
        device = folder / f"fakegpu{number}"
        os.mknod(device, 0o666 | 0o020000, os.makedev(1, 3))  # a character device, as slurmd requires
        devices.append(device)
    (folder / "gres.conf").write_text(f"NodeName={host} Name=gpu Count={gpus} File={folder}/fakegpu[0-{gpus - 1}]\n")
    return conf


def _start_munge(started: list[tuple[str, int]], created: list[Path]) -> None:
    probe = subprocess.run(["munge", "-n"], capture_output=True) if shutil.which("munge") else None
    if probe is not None and probe.returncode == 0:
        return  # a munged already answers: use it, and leave it running
    if not MUNGE_KEY.exists():
        MUNGE_KEY.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        MUNGE_KEY.write_bytes(secrets.token_bytes(1024))
        shutil.chown(MUNGE_KEY, "munge", "munge")
        MUNGE_KEY.chmod(0o400)
        created.append(MUNGE_KEY)
    MUNGE_SOCKET_DIR.mkdir(parents=True, exist_ok=True)
    shutil.chown(MUNGE_SOCKET_DIR, "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", _tool("munged")], check=True)
    pid_file = Path("/run/munge/munged.pid")
    for _ in range(50):
        if pid_file.exists():
            started.append(("munged", int(pid_file.read_text())))
            return
        time.sleep(0.1)
    raise ClusterUnavailable("munged did not start (no /run/munge/munged.pid)")


def _wait_for_pid(pid_file: Path, name: str, log: Path) -> int:
    for _ in range(100):
        if pid_file.exists() and pid_file.read_text().strip():
            return int(pid_file.read_text())
        time.sleep(0.1)
    raise ClusterUnavailable(f"{name} did not start; its log: {log.read_text()[-2000:] if log.exists() else '(none)'}")


def _stop(started: list[tuple[str, int]]) -> None:
    for _, pid in reversed(started):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    deadline = time.time() + 15
    for _, pid in started:
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            try:  # a zombie counts as stopped; PID 1 here reaps slowly
                if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    break
            except (OSError, IndexError):
                break
            time.sleep(0.1)


def daemon_alive(pid: int) -> bool:
    """Whether `pid` runs and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@contextmanager
def _installed_config(folder: Path) -> Iterator[None]:
    """slurm.conf and gres.conf at /etc/slurm while the block runs; files that were there come back afterwards."""
    SYSTEM_CONFIG.mkdir(parents=True, exist_ok=True)
    saved: list[tuple[Path, Path]] = []
    try:
        for name in ("slurm.conf", "gres.conf"):
            target = SYSTEM_CONFIG / name
            if target.exists():
                backup = folder / f"system-{name}"
                shutil.move(target, backup)
                saved.append((backup, target))
            shutil.copy(folder / name, target)
        yield
    finally:
        for name in ("slurm.conf", "gres.conf"):
            (SYSTEM_CONFIG / name).unlink(missing_ok=True)
        for backup, target in saved:
            shutil.move(backup, target)


@contextmanager
def one_node_slurm(folder: Path, gpus: int = 2) -> Iterator[dict[str, str]]:
    """Bring SLURM up in `folder`; yields the environment that client commands need (SLURM_CONF).

    The daemons started are listed in the yielded environment's STYLEPIPE_TEST_DAEMONS ("name:pid ...").
    """
    missing = missing_requirements()
    if missing:
        raise ClusterUnavailable(f"missing: {', '.join(missing)} (apt-get install slurm-wlm munge)")
    folder.mkdir(parents=True, exist_ok=True)
    for sub in ("state", "spool"):
        (folder / sub).mkdir(exist_ok=True)
    host = socket.gethostname()
    conf = _write_config(folder, host, gpus)
    env = {**os.environ, "SLURM_CONF": str(conf)}
    started: list[tuple[str, int]] = []
    created: list[Path] = []
    with _installed_config(folder), _daemons(started, created):
        _start_munge(started, created)
        subprocess.run([_tool("slurmctld"), "-f", str(conf)], env=env, check=True)
        started.append(("slurmctld", _wait_for_pid(folder / "slurmctld.pid", "slurmctld", folder / "slurmctld.log")))
        subprocess.run([_tool("slurmd"), "-f", str(conf)], env=env, check=True)
        started.append(("slurmd", _wait_for_pid(folder / "slurmd.pid", "slurmd", folder / "slurmd.log")))
        for _ in range(150):
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True).stdout.strip()
            if state == "idle":
                break
            time.sleep(0.2)
        else:
            raise ClusterUnavailable(f"the node is '{state}', not idle; slurmd log: {(folder / 'slurmd.log').read_text()[-2000:]}")
        env["STYLEPIPE_TEST_DAEMONS"] = " ".join(f"{name}:{pid}" for name, pid in started)
        yield env


@contextmanager
def _daemons(started: list[tuple[str, int]], created: list[Path]) -> Iterator[None]:
    """Stops the daemons listed in `started` and removes the files in `created` when the block ends."""
    try:
        yield
    finally:
        _stop(started)
        for path in created:
            path.unlink(missing_ok=True)
