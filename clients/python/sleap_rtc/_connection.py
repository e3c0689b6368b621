"""Finding the agent: the data folder (as src/core/paths.ts) and its connection file ``<data>/agent/agent.json``."""

import json
import ntpath
import os
import posixpath
import stat
import sys
from typing import Any, Dict, Mapping, Optional

from .errors import ApiError


def data_home(explicit: Optional[str] = None, env: Optional[Mapping[str, str]] = None, platform: Optional[str] = None, home: Optional[str] = None) -> str:
    """The installation's data folder, as the agent picks it (src/core/paths.ts ``dataHomeFor``):
    ``explicit``, else $SLEAP_RTC_DATA, else the platform's per-user data folder:
    Linux $XDG_DATA_HOME/sleap-rtc (an absolute one) or ~/.local/share/sleap-rtc; macOS
    ~/Library/Application Support/sleap-rtc; Windows %LOCALAPPDATA%\\sleap-rtc or ~\\AppData\\Local\\sleap-rtc."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    p = ntpath if platform == "win32" else posixpath
    home = os.path.expanduser("~") if home is None else home
    if explicit:
        return p.abspath(explicit) if p is os.path else p.normpath(p.join(os.getcwd(), explicit))
    if env.get("SLEAP_RTC_DATA"):
        v = env["SLEAP_RTC_DATA"]
        return p.abspath(v) if p is os.path else p.normpath(p.join(os.getcwd(), v))
    if platform == "win32":
        local = env.get("LOCALAPPDATA")
        return p.join(local if local and p.isabs(local) else p.join(home, "AppData", "Local"), "sleap-rtc")
    if platform == "darwin":
        return p.join(home, "Library", "Application Support", "sleap-rtc")
    xdg = env.get("XDG_DATA_HOME")
    return p.join(xdg if xdg and p.isabs(xdg) else p.join(home, ".local", "share"), "sleap-rtc")


def connection_file(data_dir: str) -> str:
    return os.path.join(data_dir, "agent", "agent.json")


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a process of another user counts)."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    if sys.platform == "win32":
        # os.kill(pid, 0) on Windows is not a probe: signal 0 is CTRL_C_EVENT, any other value
        # terminates the process. Ask the process table instead.
        return _windows_pid_alive(pid)
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _windows_pid_alive(pid: int) -> bool:
    import ctypes

    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.GetLastError() == 5  # ERROR_ACCESS_DENIED: it exists
    try:
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def read_connection(data_dir: str) -> Optional[Dict[str, Any]]:
    """The running agent's {url, token, pid, version}, or None: no file, not JSON, or a pid that
    has ended (stale, left by a crash). A live process's file that does not hold those fields,
    or that others may read, is an ApiError (config_invalid, forbidden), as in the TypeScript clients."""
    path = connection_file(data_dir)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            raw = f.read()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise ApiError("forbidden", f"cannot read the agent connection file {path} ({e.strerror}): run as the user that started the agent") from None
    try:
        c = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    pid = c.get("pid") if isinstance(c, dict) else None
    if not isinstance(pid, int) or not pid_alive(pid):
        return None
    ok = isinstance(c.get("url"), str) and c["url"].startswith(("http://", "https://")) and isinstance(c.get("token"), str) and len(c["token"]) >= 16 and isinstance(c.get("version"), str)
    if not ok:
        raise ApiError("config_invalid", f"the agent connection file {path} is not {{url, token, pid, version}}: stop the agent with pid {pid} and start it again, it rewrites the file")
    if os.name == "posix" and (st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077):
        raise ApiError("forbidden", f"the agent connection file {path} is not private to this user (owner {st.st_uid}, mode {oct(stat.S_IMODE(st.st_mode))}): it holds the agent's token; run `chmod 600 {path}` if it is yours")
    return {"url": c["url"].rstrip("/"), "token": c["token"], "pid": pid, "version": c["version"]}
