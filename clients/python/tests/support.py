"""What the live tests share: the agent process (started and restarted here, against the stack
that test/clients/python.test.ts started), and waiting on a condition (never a bare sleep).

Environment (set by the node test): SLEAP_RTC_DATA (the stack's data folder),
SLEAP_RTC_TEST_AGENT_ARGV (JSON argv of `sleap-rtc agent` for that folder),
SLEAP_RTC_TEST_DATASET (a small labels package to train on)."""

import json
import os
import signal
import subprocess
import threading
import time
from typing import Any, Callable, Optional

from sleap_rtc._connection import read_connection

LIVE = all(os.environ.get(k) for k in ("SLEAP_RTC_DATA", "SLEAP_RTC_TEST_AGENT_ARGV", "SLEAP_RTC_TEST_DATASET"))
NOT_LIVE = "needs a live stack: run through `node scripts/run-tests.mjs clients/python` (test/clients/python.test.ts starts one)"


def wait_for(cond: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    """Polls ``cond`` until it returns something truthy; fails naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    step = threading.Event()
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        step.wait(0.05)


class AgentProcess:
    """`sleap-rtc agent` as a child process, ready once its connection file names it."""

    def __init__(self) -> None:
        self.argv = json.loads(os.environ["SLEAP_RTC_TEST_AGENT_ARGV"])
        self.data = os.environ["SLEAP_RTC_DATA"]
        self.proc: Optional[subprocess.Popen] = None
        self.log = open(os.path.join(self.data, "agent-under-test.log"), "ab")

    def start(self) -> None:
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        pid = self.proc.pid
        wait_for(lambda: (read_connection(self.data) or {}).get("pid") == pid or self.proc.poll() is not None, "the agent's connection file")
        if self.proc.poll() is not None:
            raise AssertionError(f"the agent exited with {self.proc.returncode}; see {self.log.name}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


AGENT: Optional[AgentProcess] = None


def agent_process() -> AgentProcess:
    """The one agent of the live tests, started on first use (stopped by stop_agent)."""
    global AGENT
    if AGENT is None:
        AGENT = AgentProcess()
        AGENT.start()
    return AGENT


def stop_agent() -> None:
    global AGENT
    if AGENT is not None:
        AGENT.stop()
        AGENT.log.close()
        AGENT = None


# Small and quick: a few batches per epoch on the synthetic labels file.
QUICK = {"trainer": "builtin", "trainer_config": {"max_epochs": 3, "min_train_steps_per_epoch": 5}}
# Long enough to be paused, stopped, or outlive an agent restart (ended by the test).
LONG = {"trainer": "builtin", "trainer_config": {"max_epochs": 100000, "min_train_steps_per_epoch": 20}}


def require_live() -> None:
    """For setUpModule of the live tests: an error, not a skip, without a stack (a run that
    skips them all would pass having tested nothing)."""
    if not LIVE:
        raise RuntimeError(NOT_LIVE)
