"""HTTP to the agent with urllib (imported on first use, so ``import sleap_rtc`` stays quick).

Errors come back as the agent's ``{error: {code, message, details}}`` turned into ApiError /
AuthError; an unreachable agent is ApiError ``unavailable``. Never a proxy: the agent listens on
loopback, and an http_proxy from the environment would send its token elsewhere.
"""

import json
import socket
from typing import Any, Callable, Dict, Optional, Tuple
from urllib.parse import quote

from .errors import ApiError, AuthError

_opener = None


def _open(req: Any, timeout: float) -> Any:
    global _opener
    import urllib.request

    if _opener is None:
        _opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return _opener.open(req, timeout=timeout)


def seg(s: str) -> str:
    """One path segment (an id) escaped for a URL."""
    return quote(str(s), safe="")


def error_from(status: int, body: bytes, what: str) -> ApiError:
    try:
        e = json.loads(body.decode("utf-8"))["error"]
        code, message, details = str(e["code"]), str(e["message"]), e.get("details")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return ApiError("upstream_error", f"the agent answered {what} with HTTP {status} and no error body: is this a sleap-rtc agent?", status)
    cls = AuthError if status in (401, 403) else ApiError
    return cls(code, message, status, details if isinstance(details, dict) else None)


class Http:
    """The agent's URL and token; ``locate`` (when the agent came from its connection file)
    re-reads where it is now, so a client survives an agent restart on another port."""

    def __init__(self, url: str, token: Optional[str], timeout: float = 30.0, locate: Optional[Callable[[], Optional[Tuple[str, str]]]] = None) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._locate = locate

    def relocate(self) -> bool:
        """Re-reads the connection file; True when the agent is now somewhere else."""
        if self._locate is None:
            return False
        found = self._locate()
        if not found or (found[0], found[1]) == (self.url, self.token):
            return False
        self.url, self.token = found
        return True

    def _request(self, method: str, path: str, body: Any, auth: bool, timeout: Optional[float], headers: Optional[Dict[str, str]]) -> Any:
        import urllib.request

        h = {"accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            h["content-type"] = "application/json"
        if auth and self.token:
            h["authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=h)
        return _open(req, self.timeout if timeout is None else timeout)

    def open(self, method: str, path: str, body: Any = None, auth: bool = True, timeout: Optional[float] = None, headers: Optional[Dict[str, str]] = None) -> Any:
        """The open response (for streams); raises ApiError/AuthError for an error answer."""
        import urllib.error

        what = f"{method} {path.split('?')[0]}"
        for attempt in (0, 1):
            try:
                return self._request(method, path, body, auth, timeout, headers)
            except urllib.error.HTTPError as e:
                with e:
                    raise error_from(e.code, e.read(), what) from None
            except (urllib.error.URLError, ConnectionError, socket.timeout, OSError) as e:
                if attempt == 0 and self.relocate():
                    continue
                reason = getattr(e, "reason", e)
                raise ApiError("unavailable", f"the agent at {self.url} did not answer {what} ({reason}): is it running? start it with `npm start` or `sleap-rtc agent`") from None
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, body: Any = None, auth: bool = True, timeout: Optional[float] = None) -> Any:
        """One JSON request; the parsed reply (None for an empty one)."""
        import http.client

        res = self.open(method, path, body, auth, timeout)
        try:
            with res:
                raw = res.read()
        except (http.client.HTTPException, OSError) as e:
            raise ApiError("unavailable", f"the agent at {self.url} broke off its answer to {method} {path.split('?')[0]} ({e}); try again") from None
        if not raw:
            return None
        try:
            return json.loads(raw.decode("utf-8"))
        except ValueError:
            raise ApiError("upstream_error", f"the agent answered {method} {path.split('?')[0]} with something that is not JSON: is this a sleap-rtc agent?") from None
