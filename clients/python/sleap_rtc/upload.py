"""An upload of a dataset by the agent (POST /api/uploads): its state, and pause, resume, cancel, wait."""

import os
import time
from typing import TYPE_CHECKING, Any, Dict, Optional, TextIO

from ._http import seg
from ._progress import progress_bar
from ._sse import EventStream
from .errors import ApiError

if TYPE_CHECKING:
    from .agent import Agent

_FINAL = ("completed", "failed", "cancelled")


class Upload:
    """The agent's view of one upload (``view``), refreshed by every call."""

    def __init__(self, agent: "Agent", view: Dict[str, Any]) -> None:
        self._agent = agent
        self.view = view

    id = property(lambda self: self.view["id"])
    path = property(lambda self: self.view["path"])
    state = property(lambda self: self.view["state"], doc="queued, hashing, uploading, paused, completing, completed, failed or cancelled")
    size = property(lambda self: self.view["size"])
    bytes_done = property(lambda self: self.view["bytes_done"])
    key = property(lambda self: self.view.get("key"), doc="The object's key in the bucket (once known).")
    sha256 = property(lambda self: self.view.get("sha256"), doc="The file's SHA-256 (once the upload has hashed it).")
    s3_path = property(lambda self: self.view.get("s3_path"))

    def __repr__(self) -> str:
        return f"Upload(id={self.id!r}, state={self.state!r}, {self.bytes_done}/{self.size} bytes, key={self.key!r})"

    def refresh(self) -> "Upload":
        self.view = self._agent._http.call("GET", f"/api/uploads/{seg(self.id)}")
        return self

    def pause(self) -> "Upload":
        self.view = self._agent._http.call("POST", f"/api/uploads/{seg(self.id)}/pause")
        return self

    def resume(self) -> "Upload":
        self.view = self._agent._http.call("POST", f"/api/uploads/{seg(self.id)}/resume")
        return self

    def cancel(self) -> None:
        """Stops the upload and aborts its multipart upload (a finished object stays)."""
        self._agent._http.call("DELETE", f"/api/uploads/{seg(self.id)}")
        self.view = {**self.view, "state": "cancelled"}

    def wait(self, timeout: Optional[float] = None, progress: bool = True, file: Optional[TextIO] = None) -> "Upload":
        """Follows the upload to its end (a progress bar on ``file``, stderr by default); returns
        self once completed. A failed upload raises ApiError with the agent's code and message; a
        cancelled one ApiError ``aborted``; ``timeout`` (seconds) passing, ApiError ``timeout``."""
        if self.state == "cancelled":  # by cancel(): the agent no longer has it
            raise ApiError("aborted", f"upload of {self.path} was cancelled")
        stream = EventStream(self._agent._http)
        stream.connect()  # before reading the state: nothing after it is missed
        bar = None
        try:
            self.refresh()
            if progress and self.state not in _FINAL:
                bar = progress_bar(self.size, os.path.basename(self.path), file)
                bar.update_to(self.bytes_done)
            deadline = None if timeout is None else time.monotonic() + timeout
            for ev in self._followed(stream):
                if bar is not None:
                    bar.update_to(self.bytes_done)
                if self.state in _FINAL:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    raise ApiError("timeout", f"upload {self.id} is still {self.state} after {timeout} s ({self.bytes_done} of {self.size} bytes)")
        finally:
            stream.close()
            if bar is not None:
                bar.close()
        if self.state == "failed":
            err = self.view.get("error") or {}
            raise ApiError(err.get("code", "internal"), f"upload of {self.path} failed: {err.get('message', 'no reason given')}")
        if self.state == "cancelled":
            raise ApiError("aborted", f"upload of {self.path} was cancelled")
        return self

    def _followed(self, stream: EventStream) -> Any:
        if self.state in _FINAL:
            yield None
            return
        for ev in stream:
            if ev.event == "reset":
                self.refresh()
                yield ev
            elif ev.event == "upload" and isinstance(ev.data, dict) and ev.data.get("upload", {}).get("id") == self.id:
                if ev.data.get("type") == "removed":
                    self.view = {**ev.data["upload"], "state": "cancelled"}
                else:
                    self.view = ev.data["upload"]
                yield ev
