"""A training job of the agent (POST /api/jobs): its events, history, plots and commands."""

import threading
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Dict, Iterator, List, Optional

from ._http import seg
from ._sse import EventStream

if TYPE_CHECKING:
    from .agent import Agent

FINAL = ("completed", "stopped", "cancelled", "failed")
# Events per history request (GET /api/jobs/:id?after_seq=&limit=).
PAGE = 1000


class Job:
    """One job; ``view`` is the agent's last view of it (id, status, worker, model, error...)."""

    def __init__(self, agent: "Agent", view: Dict[str, Any]) -> None:
        self._agent = agent
        self.view = view

    id = property(lambda self: self.view["id"])
    status = property(lambda self: self.view["status"], doc="queued, accepted, downloading, training, paused, uploading, completed, stopped, cancelled or failed")
    worker = property(lambda self: self.view.get("worker"))
    model = property(lambda self: self.view.get("model"), doc="{model_id, s3_path, metrics} once the job has made a model.")
    error = property(lambda self: self.view.get("error"))
    done = property(lambda self: self.view["status"] in FINAL)

    def __repr__(self) -> str:
        return f"Job(id={self.id!r}, status={self.status!r}, worker={self.worker!r})"

    def _page(self, after_seq: int, limit: int = PAGE) -> List[Dict[str, Any]]:
        d = self._agent._http.call("GET", f"/api/jobs/{seg(self.id)}?after_seq={after_seq}&limit={limit}")
        self.view = {k: v for k, v in d.items() if k != "events"}
        return d["events"]

    def refresh(self) -> "Job":
        self._page(0, 1)
        return self

    def _events_after(self, after_seq: int) -> Iterator[Dict[str, Any]]:
        """Every event after ``after_seq`` the agent holds, page by page."""
        while True:
            page = self._page(after_seq)
            for e in page:
                after_seq = e["seq"]
                yield e
            if len(page) < PAGE:
                return

    # -- commands ---------------------------------------------------------------------------
    def _command(self, command: str) -> "Job":
        r = self._agent._http.call("POST", f"/api/jobs/{seg(self.id)}/commands", {"command": command})
        self.view = r["job"]
        return self

    def pause(self) -> "Job":
        return self._command("pause")

    def resume(self) -> "Job":
        return self._command("resume")

    def stop(self) -> "Job":
        """Ends training early; the worker still saves and uploads the best model so far."""
        return self._command("stop")

    def cancel(self) -> "Job":
        """Ends the job without a model."""
        return self._command("cancel")

    # -- events -----------------------------------------------------------------------------
    def events(self, after_seq: int = 0, _stream: Optional[EventStream] = None) -> Iterator[Dict[str, Any]]:
        """The job's events (``{type: status|progress|job_complete|job_failed, seq, ...}``) after
        ``after_seq``, in order, each once: the history first, then live ones over SSE, until the
        job has ended. A dropped connection is resumed with Last-Event-ID; after an agent restart
        (the agent sends ``event: reset``) the gap is read from the job's history."""
        stream = _stream or EventStream(self._agent._http)
        seen = _Seen(after_seq)
        try:
            stream.connect()  # first, so that nothing after the history read is missed
            yield from seen.take(self._events_after(seen.last))
            if seen.ended(self.status):
                return
            for ev in stream:
                if ev.event == "reset":
                    yield from seen.take(self._events_after(seen.last))
                elif ev.event == "job" and isinstance(ev.data, dict) and ev.data.get("job", {}).get("id") == self.id:
                    e = ev.data.get("event")
                    if e is not None and e["seq"] > seen.last + 1:
                        # A gap (events the agent held from before this stream): from the history.
                        yield from seen.take(self._events_after(seen.last))
                    if e is not None:
                        yield from seen.take([e])
                    self.view = ev.data["job"]
                else:
                    continue
                if seen.ended(self.status):
                    return
        finally:
            stream.close()

    async def aevents(self, after_seq: int = 0) -> AsyncIterator[Dict[str, Any]]:
        """``events()`` for asyncio: read in a thread, handed to the event loop; leaving the
        ``async for`` early closes the stream."""
        import asyncio  # here: it costs more to import than the rest of this package

        loop = asyncio.get_running_loop()
        queue: Any = asyncio.Queue()
        stream = EventStream(self._agent._http)
        end = object()

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop has closed: nobody is waiting any more
                stream.close()

        def run() -> None:
            try:
                for e in self.events(after_seq, _stream=stream):
                    put(e)
            except BaseException as exc:  # handed to the awaiting side
                put(exc)
            finally:
                put(end)

        t = threading.Thread(target=run, name=f"sleap-rtc-events-{self.id}", daemon=True)
        t.start()
        try:
            while True:
                item = await queue.get()
                if item is end:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            stream.close()

    def wait(self, timeout: Optional[float] = None) -> str:
        """Follows the job to its end; returns its final status (completed, stopped, cancelled or
        failed). ``timeout`` seconds passing raises ApiError ``timeout`` (the job goes on)."""
        from .errors import ApiError

        deadline = None if timeout is None else time.monotonic() + timeout
        for _ in self.events(self.view.get("last_seq") or 0):
            if deadline is not None and time.monotonic() > deadline:
                raise ApiError("timeout", f"job {self.id} is still {self.status} after {timeout} s")
        if not self.done:
            self.refresh()
        return self.status

    # -- history and plots --------------------------------------------------------------------
    def history(self) -> List[Dict[str, Any]]:
        """Every loss point so far, oldest first: one dict per progress event with logs
        (batch_end, epoch_end): ``{seq, t, event, epoch, batch, "train/loss", "val/loss", ...}``."""
        return [p for p in (point(e) for e in self._events_after(0)) if p is not None]

    def history_df(self) -> Any:
        """history() as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("job.history_df() needs pandas: pip install pandas (or use job.history(), a list of dicts)") from None
        return pd.DataFrame(self.history())

    def plot(self, points: Optional[List[Dict[str, Any]]] = None) -> Any:
        """A matplotlib Figure of the losses per epoch (train and val, log scale)."""
        from ._plot import LossFigure

        f = LossFigure(self.id)
        f.update(self.history() if points is None else points)
        return f.figure

    def live_plot(self, until: Optional[Callable[[Dict[str, Any]], bool]] = None, interval: float = 0.5) -> Any:
        """In a notebook cell: shows plot() and redraws it as the job's points arrive (at most
        every ``interval`` s), until the job ends or ``until(point)`` is true for a point (the job
        goes on: stop it with job.stop()). Returns the Figure. Outside IPython it only follows."""
        from ._plot import LossFigure

        f = LossFigure(self.id)
        handle = None
        try:
            from IPython.display import display

            handle = display(f.figure, display_id=True)
        except ImportError:
            pass
        points: List[Dict[str, Any]] = []
        drawn = 0.0
        gen = self.events()
        try:
            for e in gen:
                p = point(e)
                if p is None:
                    continue
                points.append(p)
                stop = until is not None and until(p)
                if stop or time.monotonic() - drawn >= interval:
                    drawn = time.monotonic()
                    f.update(points)
                    if handle is not None:
                        handle.update(f.figure)
                if stop:
                    break
        finally:
            gen.close()
        f.update(points)
        if handle is not None:
            handle.update(f.figure)
        return f.figure


class _Seen:
    """What events() has given: the last seq, and whether the job's events are over."""

    def __init__(self, after_seq: int) -> None:
        self.last = after_seq
        self.status: Optional[str] = None
        self.terminal = False

    def take(self, events: Any) -> Iterator[Dict[str, Any]]:
        for e in events:
            if e["seq"] <= self.last:
                continue
            self.last = e["seq"]
            if e["type"] == "status":
                self.status = e["status"]
            elif e["type"] in ("job_complete", "job_failed"):
                self.terminal = True
            yield e

    def ended(self, status: str) -> bool:
        """A worker ends a job with a final status event, then job_complete or job_failed: wait
        for that last one. A job the agent ended (cancelled before a worker took it, worker
        lost) has no such events: its final state is the end."""
        if status not in FINAL:
            return False
        return self.terminal or self.status != status


def point(e: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """A loss point of a progress event with logs, else None."""
    if e.get("type") != "progress":
        return None
    d = e.get("data") or {}
    if "logs" not in d:
        return None
    return {"seq": e["seq"], "t": e["t"], "event": d["event"], "epoch": d.get("epoch"), "batch": d.get("batch"), **d["logs"]}
