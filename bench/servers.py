"""Process handling for the benchmark: build steps, servers on loopback ports, clean shutdown.

Every child runs in its own session (process group) so that stopping it also stops any workers
it forked; every wait is bounded by a deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

LOOPBACK = "127.0.0.1"
POLL_INTERVAL_S = 0.2
STOP_GRACE_S = 10.0


class StepFailed(RuntimeError):
    """A build step or server start failed; the message carries the tail of its log."""


def free_port() -> int:
    """A currently unused TCP port on the loopback interface."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def log_tail(log: Path, lines: int = 20) -> str:
    """The last lines of a log file (empty if there is none)."""
    if not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def run_step(cmd: Sequence[str], log: Path, timeout_s: float,
             env: dict[str, str] | None = None) -> float:
    """Run a command to completion (bounded by `timeout_s`); return its wall time in seconds.
    ``env``, when given, is the command's whole environment (default: this process's)."""
    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env=env)
        try:
            code = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            stop(proc)
            raise StepFailed(f"timed out after {timeout_s}s: {' '.join(cmd)}\n{log_tail(log)}")
    if code != 0:
        raise StepFailed(f"exit code {code}: {' '.join(cmd)}\n{log_tail(log)}")
    return time.monotonic() - started


def stop(proc: subprocess.Popen) -> None:
    """Stop a child and its process group: SIGTERM, then SIGKILL after a grace period."""
    for sig, grace in ((signal.SIGTERM, STOP_GRACE_S), (signal.SIGKILL, STOP_GRACE_S)):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            continue
    _reap_group(proc.pid)


def _reap_group(pgid: int) -> None:
    """Kill whatever is left in a process group whose leader has exited (e.g. orphaned workers)."""
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def http_status(url: str, timeout_s: float = 5.0) -> int | None:
    """The HTTP status of a GET, or None if the server did not answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code
    except (OSError, ValueError):
        return None


def wait_ready(url: str, proc: subprocess.Popen, log: Path, deadline_s: float) -> float:
    """Poll `url` until it answers 200; fail if the process dies or the deadline passes."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s:
        if proc.poll() is not None:
            raise StepFailed(f"server exited with {proc.returncode} before ready\n{log_tail(log)}")
        if http_status(url) == 200:
            return time.monotonic() - started
        time.sleep(POLL_INTERVAL_S)
    raise StepFailed(f"not ready after {deadline_s}s: {url}\n{log_tail(log)}")


@contextmanager
def serving(cmd: Sequence[str], ready_url: str, log: Path, deadline_s: float,
            started: list | None = None, env: dict[str, str] | None = None) -> Iterator[float]:
    """Start a server, wait until `ready_url` answers 200, yield the start-up time, stop it.
    ``started``, when given, receives the server's process (for :func:`tree_rss`); ``env``,
    when given, is the server's whole environment (default: this process's)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                env=env)
    if started is not None:
        started.append(proc)
    try:
        yield wait_ready(ready_url, proc, log, deadline_s)
    finally:
        stop(proc)


def tree_rss(pid: int) -> dict[str, int]:
    """Resident memory (bytes) of a process and every descendant, by pid, with each one's role
    (its command line, shortened), read from /proc at this moment."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = {}, [pid]
    while todo and len(out) < 1000:
        current = todo.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            cmd = Path(f"/proc/{current}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        rss = next((int(line.split()[1]) * 1024 for line in status.splitlines()
                    if line.startswith("VmRSS:")), 0)
        out[f"{current} {cmd[:90].strip()}"] = rss
        todo += children.get(current, [])
    return out


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def cpu_busy(sample_s: float = 1.0) -> float:
    """Percentage of all CPUs busy over a short sample (100 = every core busy)."""
    busy0, total0 = _cpu_times()
    time.sleep(sample_s)
    busy1, total1 = _cpu_times()
    return 100.0 * (busy1 - busy0) / max(1, total1 - total0)


def wait_quiet(threshold_pct: float, limit_s: float) -> float:
    """Wait (at most `limit_s`) until the machine is nearly idle; return the last busy %."""
    started = time.monotonic()
    busy = cpu_busy()
    while busy > threshold_pct and time.monotonic() - started < limit_s:
        busy = cpu_busy()
    return busy


def dir_size_bytes(path: Path) -> int:
    """Total size of the regular files under `path`."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
