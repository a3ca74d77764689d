"""What hil/run, hil/soak and bench/run share: child processes and signals, a log, HTTP to rigd, JUnit XML, and
rigd's list of device kinds (`rigd kinds --json`).

Each script imports it by path, with no installation step:

    sys.path.insert(0, os.path.join(REPO, "tools"))
    import rigdtools

Processes. Every child (Proc) gets a process group of its own, its stdout and stderr in files, no blocked signals,
and SIGTERM from the kernel if the script dies without cleaning up (PR_SET_PDEATHSIG). Proc.stop() sends its group
SIGTERM, then SIGKILL after its grace; stop_all() stops every live one, rigd first (it drives its stations' safe
state while the simulators still answer), then newest first; it also runs at exit.

Signals. After handle_signals(), SIGINT and SIGTERM raise Interrupted, once. While a process is being started or
stopped they are only recorded (a process started but not yet registered would escape the cleanup) and raised
right after; pending_signal() names the first one.

Python 3.11+, standard library only.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET


class RunError(RuntimeError):
    """Something went wrong that is not a check's verdict: a process did not start, exited, or timed out."""


class Interrupted(BaseException):
    """SIGINT or SIGTERM of the script."""

    def __init__(self, signame: str):
        super().__init__(signame)
        self.signame = signame


# ---------------------------------------------------------------------------------------------------------------
# Log

_log = {"prefix": "log", "stamp": True, "stream": None, "file": None}
_log_lock = threading.Lock()


def configure_log(prefix: str, path: str | None = None, stream=None, stamp: bool = True) -> None:
    """log() writes "[PREFIX HH:MM:SS] message" (stamp) or "PREFIX: message" to `stream` (default: stdout), and
    appends it to the file at `path` if given."""
    close_log()
    _log.update(prefix=prefix, stamp=stamp, stream=stream, file=open(path, "a") if path else None)


def close_log() -> None:
    if _log["file"] is not None:
        _log["file"].close()
        _log["file"] = None


def log(message: str) -> None:
    if _log["stamp"]:
        line = f"[{_log['prefix']} {time.strftime('%H:%M:%S')}] {message}"
    else:
        line = f"{_log['prefix']}: {message}"
    with _log_lock:
        print(line, file=_log["stream"] or sys.stdout, flush=True)
        if _log["file"] is not None:
            try:
                _log["file"].write(line + "\n")
                _log["file"].flush()
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------------------------
# Signals

_sig = {"pending": None, "raised": False, "defer": 0}


def _on_signal(signum, _frame):
    name = signal.Signals(signum).name
    if _sig["pending"] is None:
        _sig["pending"] = name
    if _sig["raised"] or _sig["defer"]:
        return
    _sig["raised"] = True
    raise Interrupted(name)


def handle_signals() -> None:
    """From here on SIGINT and SIGTERM raise Interrupted. Whoever started the script may have left them blocked or
    ignored (both are inherited through exec)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)


def pending_signal() -> str | None:
    """The first SIGINT or SIGTERM received ("SIGINT"), if any."""
    return _sig["pending"]


class deferred_signals:
    """Within: SIGINT/SIGTERM are recorded, not raised; raised on leaving (unless already handled)."""

    def __enter__(self):
        _sig["defer"] += 1

    def __exit__(self, exc_type, exc, tb):
        _sig["defer"] -= 1
        if _sig["defer"] == 0 and _sig["pending"] and not _sig["raised"] and exc_type is None:
            _sig["raised"] = True
            raise Interrupted(_sig["pending"])
        return False


# ---------------------------------------------------------------------------------------------------------------
# Processes

try:
    _libc = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc: no parent-death signal, the script's own cleanup still applies
    _libc = None
PR_SET_PDEATHSIG = 1


def child_setup():
    """preexec_fn of every child. Runs between fork and exec. Signals unblocked: a blocked mask is inherited through
    exec, and a script started by a program that blocks signals in its threads (a test harness) would otherwise
    start a socat that ignores SIGTERM. And SIGTERM when the script dies without cleaning up (kill -9), so rigd
    still drives its stations' safe state and nothing lingers."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    if _libc is not None:
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


class Proc:
    """A child process in its own process group (and session), with stdout and stderr in ROLE.stdout.log and
    ROLE.stderr.log of `log_dir`, logged when it starts and stops and listed in `log_dir`/processes.txt."""

    live: list["Proc"] = []       # started, not yet stopped
    started: list["Proc"] = []    # every one started

    def __init__(self, role: str, argv: list[str], log_dir: str, grace: float):
        self.role = role
        self.argv = argv
        self.grace = grace
        self.stdout_path = os.path.join(log_dir, f"{role}.stdout.log")
        self.stderr_path = os.path.join(log_dir, f"{role}.stderr.log")
        self.exit_status: int | None = None
        self.forced = False      # needed SIGKILL
        with deferred_signals():
            with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
                self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                              start_new_session=True, preexec_fn=child_setup, close_fds=True)
            self.pid = self.popen.pid
            Proc.live.append(self)
            Proc.started.append(self)
        log(f"started {role} (pid {self.pid}, process group {self.pid}): {' '.join(argv)}")
        with open(os.path.join(log_dir, "processes.txt"), "a") as f:
            f.write(f"{self.pid}\t{role}\t{' '.join(argv)}\n")

    def running(self) -> bool:
        return self.popen.poll() is None

    def read_stdout(self) -> str:
        return read_file(self.stdout_path)

    def read_stderr(self) -> str:
        return read_file(self.stderr_path)

    def kill9(self) -> None:
        """SIGKILL to the process group (a simulated device losing power), and reap it."""
        with deferred_signals():
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait()
            self.exit_status = self.popen.returncode
            if self in Proc.live:
                Proc.live.remove(self)

    def stop(self) -> int | None:
        """SIGTERM to the process group, SIGKILL after the grace; returns the exit status (negative: signal)."""
        if self.popen.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=self.grace)
            except subprocess.TimeoutExpired:
                log(f"{self.role} (pid {self.pid}) still running {self.grace:g} s after SIGTERM: SIGKILL")
                self.forced = True
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait()
        self.exit_status = self.popen.returncode
        if self in Proc.live:
            Proc.live.remove(self)
            log(f"stopped {self.role} (pid {self.pid}): exit status {describe_status(self.exit_status)}")
        return self.exit_status


def describe_status(status: int | None) -> str:
    if status is None:
        return "none"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return str(status)


def stop_all(final: bool = False) -> list[Proc]:
    """Stops every live process, rigd first (it drives its stations' safe state while the simulators still answer),
    then newest first; returns those that needed SIGKILL. Idempotent. A signal that arrives meanwhile is recorded,
    and acted on once every process is stopped; with `final`, never again (it changes nothing but the exit status)."""
    _sig["defer"] += 1
    stopped = []
    try:
        for proc in sorted(reversed(list(Proc.live)), key=lambda p: p.role != "rigd"):
            try:
                proc.stop()
                stopped.append(proc)
            except Exception as e:  # keep going: every process must be stopped
                log(f"stopping {proc.role} (pid {proc.pid}) failed: {e}")
    finally:
        if not final:
            _sig["defer"] -= 1
    return [p for p in stopped if p.forced]


atexit.register(stop_all)


def read_file(path: str) -> str:
    """The file's text ("" if it cannot be read)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def wait_for(what: str, timeout: float, check, proc: Proc | None = None, interval: float = 0.05):
    """Polls `check()` until it returns a truthy value, and returns it; RunError on timeout or if `proc` exits
    first."""
    end = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if proc is not None and not proc.running():
            raise RunError(f"{proc.role} exited with status {describe_status(proc.popen.returncode)} before "
                           f"{what}; its stderr ({proc.stderr_path}):\n{tail(proc.read_stderr())}")
        if time.monotonic() > end:
            where = f"; its stderr ({proc.stderr_path}):\n{tail(proc.read_stderr())}" if proc else ""
            raise RunError(f"timed out after {timeout:g} s waiting for {what}{where}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------------------------
# HTTP

def http(method: str, url: str, body=None, token: str | None = None, timeout: float = 10.0):
    """Returns (status, parsed JSON or text); `body` is sent as JSON, `token` as a bearer token. Connection errors
    raise OSError."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text) if text else None
    except json.JSONDecodeError:
        return status, text


# ---------------------------------------------------------------------------------------------------------------
# JUnit XML

class TestCase:
    """One <testcase>. status: passed | failed | error | skipped. A failure's message attribute is `message`, an
    error's its first line; the element's text is `text` (default: the message). `out`: a <system-out> of its own."""

    def __init__(self, name: str, status: str = "passed", message: str = "", text: str | None = None,
                 out: str | None = None):
        self.name = name
        self.status = status
        self.message = message
        self.text = message if text is None else text
        self.out = out


class TestSuite:
    """One <testsuite>: its cases (each with `classname`), its <system-out>, and extra attributes (`file`)."""

    def __init__(self, name: str, classname: str, time: float, cases: list[TestCase], out: str = "",
                 attrs: dict[str, str] | None = None):
        self.name = name
        self.classname = classname
        self.time = time
        self.cases = cases
        self.out = out
        self.attrs = attrs or {}


def write_junit(path: str, name: str, suites: list[TestSuite], total_time: float) -> None:
    """<testsuites name=NAME> with the suites, and tests/failures/errors/skipped counted per suite and in all."""
    root = ET.Element("testsuites", name=name)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for s in suites:
        suite = ET.SubElement(root, "testsuite", {"name": s.name, "time": f"{s.time:.3f}", **s.attrs})
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for c in s.cases:
            tc = ET.SubElement(suite, "testcase", classname=s.classname, name=c.name)
            counts["tests"] += 1
            if c.status == "failed":
                counts["failures"] += 1
                ET.SubElement(tc, "failure", message=c.message).text = c.text
            elif c.status == "error":
                counts["errors"] += 1
                ET.SubElement(tc, "error", message=c.message.splitlines()[0] if c.message else "").text = c.text
            elif c.status == "skipped":
                counts["skipped"] += 1
                ET.SubElement(tc, "skipped", message=c.message)
            if c.out is not None:
                ET.SubElement(tc, "system-out").text = c.out
        ET.SubElement(suite, "system-out").text = s.out
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


# ---------------------------------------------------------------------------------------------------------------
# rigd's device kinds

def rigd_kinds(rigd: str, require: tuple[str, ...] = ("name",), timeout: float = 30) -> list[dict]:
    """The device kinds of this rigd binary, as `rigd kinds --json` lists them: {"kinds": [{"name", "summary",
    "device_type", "presets", "default_preset", "runs", "recipe_keys", "loss_alarm", "host_watchdog", "transports",
    "channels", "settings", "relays"}, …]}. Each kind must have the keys in `require`. RunError, naming the command, if it fails."""
    argv = [rigd, "kinds", "--json"]
    command = f"`{' '.join(argv)}`"
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
                              preexec_fn=child_setup)
    except (OSError, subprocess.SubprocessError) as e:
        raise RunError(f"{command} could not run: {e}")
    if done.returncode != 0:
        raise RunError(f"{command} exited with status {describe_status(done.returncode)} (the device kinds come "
                       f"from it: a rigd without the kinds command?): {tail(done.stderr, 5) or 'no output'}")
    try:
        kinds = json.loads(done.stdout)["kinds"]
        if not isinstance(kinds, list) or not all(isinstance(k, dict) for k in kinds):
            raise TypeError("not a list of objects")
        missing = [(i, key) for i, k in enumerate(kinds) for key in require if key not in k]
    except (ValueError, KeyError, TypeError) as e:
        raise RunError(f"{command} did not print {{\"kinds\": [{{\"name\": …}}, …]}} ({e!r}): {done.stdout[:300]!r}")
    if missing:
        i, key = missing[0]
        raise RunError(f"{command}: kind {i + 1} ({kinds[i].get('name', '?')}) has no \"{key}\"")
    if not kinds:
        raise RunError(f"{command} listed no device kinds")
    return kinds
