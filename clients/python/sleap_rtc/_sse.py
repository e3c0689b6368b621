"""The agent's server-sent events (GET /api/events), reconnecting with ``Last-Event-ID``.

After a dropped connection the stream reconnects by itself and sends the id of the last event it
gave; the agent then sends every event missed, in order, or ``event: reset`` when it no longer
has them (it restarted, or too many were missed): callers re-read state on a reset.
"""

import json
import threading
import time
from typing import Any, Dict, Iterator, Optional

from ._http import Http
from .errors import ApiError, AuthError

# The agent pings every 15 s: a read silent for longer means the connection is dead.
READ_TIMEOUT_S = 45.0


class Event:
    __slots__ = ("id", "event", "data")

    def __init__(self, id: Optional[str], event: str, data: Any) -> None:
        self.id = id
        self.event = event
        self.data = data

    def __repr__(self) -> str:
        return f"Event(id={self.id!r}, event={self.event!r})"


def parse(lines: Iterator[bytes]) -> Iterator[Dict[str, Any]]:
    """SSE blocks from raw lines, as the HTML spec reads them: ``field: value`` lines, ``:``
    comments, data lines joined by newlines, a blank line ending the block."""
    block: Dict[str, Any] = {}
    data: list = []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line == "":
            if data or block:
                block["data"] = "\n".join(data)
                yield block
            block, data = {}, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name in ("id", "event", "retry"):
            block[name] = value


class EventStream:
    """Iterates the agent's events for as long as wanted, across dropped connections and agent
    restarts (giving up with ApiError ``unavailable`` after ``give_up_s`` without a connection)."""

    def __init__(self, http: Http, last_event_id: Optional[str] = None, give_up_s: float = 120.0) -> None:
        self._http = http
        self.last_event_id = last_event_id
        self._give_up_s = give_up_s
        self._retry_s = 1.0
        self._res: Any = None
        self._closed = threading.Event()
        self._lock = threading.Lock()
        # How many times the stream connected (the first time included).
        self.connects = 0

    def connect(self) -> None:
        """Opens the stream now (events from this moment are not missed), retrying until give_up_s."""
        deadline = time.monotonic() + self._give_up_s
        while True:
            if self._closed.is_set():
                return
            headers = {"accept": "text/event-stream"}
            if self.last_event_id:
                headers["last-event-id"] = self.last_event_id
            try:
                res = self._http.open("GET", "/api/events", headers=headers, timeout=READ_TIMEOUT_S)
            except AuthError:
                raise
            except ApiError as e:
                if e.code != "unavailable" or time.monotonic() >= deadline:
                    raise
                # Waits for the agent to come back (the server's `retry:` interval), not for a test.
                self._closed.wait(self._retry_s)
                self._http.relocate()
                continue
            with self._lock:
                if self._closed.is_set():
                    res.close()
                    return
                self._res = res
            self.connects += 1
            return

    def close(self) -> None:
        """Ends the iteration, also from another thread (a blocked read returns)."""
        self._closed.set()
        with self._lock:
            res, self._res = self._res, None
        if res is not None:
            try:
                # Shut the socket down first: close() alone does not wake a read in another thread.
                import socket

                sock = res.fp.raw._sock if res.fp is not None else None
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
            except (AttributeError, OSError):
                pass
            try:
                res.close()
            except OSError:
                pass

    def __iter__(self) -> Iterator[Event]:
        import http.client

        while not self._closed.is_set():
            if self._res is None:
                self.connect()
                continue
            res = self._res
            try:
                for b in parse(iter(res.readline, b"")):
                    if "retry" in b:
                        try:
                            self._retry_s = max(0.1, min(10.0, int(b["retry"]) / 1000))
                        except ValueError:
                            pass
                    if "id" in b:
                        self.last_event_id = b["id"]
                    if not b.get("data") and "event" not in b:
                        continue
                    try:
                        data = json.loads(b["data"]) if b["data"] else None
                    except ValueError:
                        data = b["data"]
                    yield Event(b.get("id"), b.get("event", "message"), data)
            except (http.client.HTTPException, OSError, ValueError):
                pass  # dropped: reconnect below
            with self._lock:
                if self._res is res:
                    self._res = None
            try:
                res.close()
            except OSError:
                pass
