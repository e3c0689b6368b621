"""Every method of the client against a live stack (store, server, builtin worker) and an agent
this module starts, restarts and stops; the SSE resume across a dropped connection and across an
agent restart; each exception with the agent's own message."""

import asyncio
import contextlib
import hashlib
import io
import json
import os
import signal
import sys
import tempfile
import unittest
from unittest import mock

import sleap_rtc.job
from sleap_rtc import Agent, AgentNotFound, ApiError, AuthError, Job
from sleap_rtc._connection import read_connection
from sleap_rtc._sse import EventStream

from .support import LONG, QUICK, agent_process, require_live, stop_agent, wait_for

DATASET = os.environ.get("SLEAP_RTC_TEST_DATASET", "")
TMP: tempfile.TemporaryDirectory


def setUpModule() -> None:
    global TMP
    require_live()
    TMP = tempfile.TemporaryDirectory()
    agent_process()


def tearDownModule() -> None:
    stop_agent()
    TMP.cleanup()


def sha256_of(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def big_zip(name: str, mib: int) -> str:
    """A dataset the agent accepts (a .zip: PK signature) big enough to pause while it uploads."""
    path = os.path.join(TMP.name, name)
    with open(path, "wb") as f:
        f.write(b"PK\x03\x04")
        block = os.urandom(1 << 20)
        for i in range(mib):
            f.write(block[:-4] + i.to_bytes(4, "big"))
    return path


def running(job: Job) -> None:
    """Follows the job's events until it is training (the worker has it and can take commands)."""
    for e in job.events():
        if e.get("type") == "status" and e["status"] == "training":
            return
    raise AssertionError(f"job {job.id} ended ({job.status}) before it trained")


def free_worker(a: Agent) -> None:
    """Waits until a worker is free: the one worker of the stack says it is available a moment
    after its last job ended (a submit before that is refused with no_worker)."""
    wait_for(lambda: any((w.get("metadata") or {}).get("properties", {}).get("status") == "available" for w in a.workers()), "a free worker")


def train(a: Agent, *args, **kw) -> Job:
    free_worker(a)
    return a.train(*args, **kw)


def long_job(test: unittest.TestCase, a: Agent) -> Job:
    """A job that runs until the test ends it; cancelled at cleanup if the test did not (the
    stack's one worker would stay busy for the next test)."""
    job = train(a, DATASET, config=LONG)

    def end() -> None:
        if not job.refresh().done:
            job.cancel()
            job.wait()

    test.addCleanup(end)
    return job


def assert_in_order(test: unittest.TestCase, seqs: list) -> None:
    test.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "each event once, in order, none missing")


class Health(unittest.TestCase):
    def test_found_from_the_connection_file(self) -> None:
        a = Agent()
        c = read_connection(os.environ["SLEAP_RTC_DATA"])
        self.assertEqual(a.url, c["url"])
        h = a.health()
        self.assertEqual((h["status"], h["pid"]), ("ok", c["pid"]))

    def test_url_and_token_given(self) -> None:
        c = read_connection(os.environ["SLEAP_RTC_DATA"])
        a = Agent(url=c["url"], token=c["token"])
        self.assertEqual(a.health()["status"], "ok")
        self.assertIsInstance(a.jobs(), list)
        # Without token=, the data folder's token file.
        self.assertIsInstance(Agent(url=c["url"]).jobs(), list)


class Uploads(unittest.TestCase):
    def test_upload_waits_with_tqdm_and_returns_key_and_sha256(self) -> None:
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            up = Agent().upload(DATASET)
        self.assertEqual(up.state, "completed")
        self.assertEqual(up.sha256, sha256_of(DATASET))
        self.assertTrue(up.key and up.key.endswith(os.path.basename(DATASET)), up.key)
        self.assertIn(os.path.basename(DATASET), err.getvalue())

    def test_upload_with_the_plain_line_without_tqdm(self) -> None:
        path = big_zip("plain.zip", 8)
        err = io.StringIO()
        with mock.patch.dict(sys.modules, {"tqdm": None, "tqdm.auto": None}), contextlib.redirect_stderr(err):
            up = Agent().upload(path)
        self.assertEqual(up.sha256, sha256_of(path))
        self.assertTrue(err.getvalue().endswith("plain.zip: 8.00 MiB / 8.00 MiB (100%)\n"), repr(err.getvalue()[-200:]))

    def test_pause_resume_wait(self) -> None:
        path = big_zip("paused.zip", 96)
        a = Agent()
        up = a.upload(path, wait=False)
        self.assertEqual(up.pause().state, "paused")
        self.assertEqual(up.refresh().state, "paused")
        self.assertIn(up.resume().state, ("queued", "hashing", "uploading", "completing", "completed"))
        up.wait(progress=False)
        self.assertEqual((up.state, up.sha256), ("completed", sha256_of(path)))
        self.assertIn(up.id, [u.id for u in a.uploads()])

    def test_cancel_then_wait_raises_aborted(self) -> None:
        up = Agent().upload(big_zip("cancelled.zip", 96), wait=False)
        up.cancel()
        with self.assertRaises(ApiError) as c:
            up.wait(progress=False)
        self.assertEqual(c.exception.code, "aborted")
        with self.assertRaises(ApiError) as c:
            up.refresh()
        self.assertEqual(c.exception.code, "not_found")


class Training(unittest.TestCase):
    def test_train_with_a_dict_wait_history_plot_download(self) -> None:
        a = Agent()
        up = a.upload(DATASET, progress=False)
        job = train(a, up, config=QUICK, max_epochs=2)  # an Upload: its s3:// path in the room
        self.assertEqual(job.view["dataset"], up.s3_path)
        self.assertEqual(job.wait(), "completed")
        self.assertTrue(job.model and job.model["model_id"])
        self.assertIn(job.id, [j.id for j in a.jobs()])
        self.assertEqual(a.job(job.id).status, "completed")

        events = list(job.events())
        assert_in_order(self, [e["seq"] for e in events])
        self.assertEqual(events[0]["seq"], 1)
        self.assertEqual(events[-1]["type"], "job_complete")
        hist = job.history()
        self.assertEqual(len(hist), sum(1 for e in events if e["type"] == "progress" and "logs" in e["data"]))
        self.assertEqual([p["epoch"] for p in hist if p["event"] == "epoch_end"], [0, 1])
        # Paged through the API: the same points with pages of 7.
        with mock.patch.object(sleap_rtc.job, "PAGE", 7):
            self.assertEqual(job.history(), hist)
        df = job.history_df()
        self.assertEqual(len(df), len(hist))
        self.assertIn("train/loss", df.columns)
        fig = job.plot()
        ax = fig.axes[0]
        self.assertEqual(ax.get_yscale(), "log")
        self.assertEqual([l.get_label() for l in ax.lines], ["train/loss", "val/loss"])
        self.assertEqual(list(ax.lines[0].get_xdata()), [1, 2])

        models = a.models()
        self.assertIn(job.model["model_id"], [m["id"] for m in models])
        self.assertEqual(a.model(job.model["model_id"])["id"], job.model["model_id"])
        d = a.download_model(job.model["model_id"], os.path.join(TMP.name, "models"))
        self.assertEqual(d["dest"], os.path.join(TMP.name, "models", job.model["model_id"]))
        self.assertTrue(d["files"])
        for f in d["files"]:
            self.assertEqual(sha256_of(f["path"]), f["sha256"])

    def test_config_from_json_and_yaml_files(self) -> None:
        a = Agent()
        j = os.path.join(TMP.name, "c.json")
        with open(j, "w") as f:
            json.dump(QUICK, f)
        y = os.path.join(TMP.name, "c.yaml")
        with open(y, "w") as f:
            f.write("trainer: builtin\ntrainer_config:\n  max_epochs: 1\n  min_train_steps_per_epoch: 3\n")
        for path, epochs in ((j, 3), (y, 1)):
            job = train(a, DATASET, config=path)
            self.assertEqual(job.wait(), "completed")
            self.assertEqual(len([p for p in job.history() if p["event"] == "epoch_end"]), epochs, path)
            self.assertEqual(a.job(job.id).view["config"]["trainer_config"]["max_epochs"], epochs)

    def test_workers_and_a_named_worker(self) -> None:
        a = Agent()
        workers = a.workers()
        self.assertTrue(workers)
        wid = workers[0]["peer_id"]
        job = train(a, DATASET, config=QUICK, max_epochs=1, worker=wid)
        self.assertEqual(job.wait(), "completed")
        self.assertEqual(job.worker, wid)

    def test_pause_resume_stop(self) -> None:
        a = Agent()
        job = long_job(self, a)
        running(job)
        self.assertEqual(job.pause().status, "paused")
        statuses = []
        for e in job.events():
            if e["type"] == "status":
                statuses.append(e["status"])
                if e["status"] == "paused":
                    break
        self.assertEqual(statuses[-1], "paused")
        self.assertEqual(job.resume().status, "training")
        job.stop()
        self.assertEqual(job.wait(), "stopped")
        self.assertTrue(job.model and job.model["model_id"], "a stopped job keeps its best model")

    def test_cancel(self) -> None:
        job = long_job(self, Agent())
        running(job)
        job.cancel()
        self.assertEqual(job.wait(), "cancelled")

    def test_live_plot_until_then_stop(self) -> None:
        job = long_job(self, Agent())
        with contextlib.redirect_stdout(io.StringIO()):  # IPython's display() outside a notebook prints a repr
            fig = job.live_plot(until=lambda p: p["event"] == "epoch_end" and p["epoch"] >= 2)
        self.assertEqual(list(fig.axes[0].lines[0].get_xdata()), [1, 2, 3])
        self.assertFalse(job.done)
        job.stop()
        self.assertEqual(job.wait(), "stopped")

    def test_aevents_gives_what_events_gives(self) -> None:
        job = train(Agent(), DATASET, config=QUICK, max_epochs=1)

        async def collect() -> list:
            return [e async for e in job.aevents()]

        got = asyncio.run(collect())
        self.assertEqual(got, list(job.events()))
        self.assertEqual(job.status, "completed")

    def test_aevents_left_early_closes_its_stream(self) -> None:
        job = long_job(self, Agent())

        async def first_three() -> list:
            out = []
            async for e in job.aevents():
                out.append(e)
                if len(out) == 3:
                    break
            return out

        self.assertEqual([e["seq"] for e in asyncio.run(first_three())], [1, 2, 3])
        job.cancel()
        self.assertEqual(job.wait(), "cancelled")


class Resume(unittest.TestCase):
    def test_a_dropped_connection_resumes_with_last_event_id(self) -> None:
        a = Agent()
        job = long_job(self, a)
        running(job)
        stream = EventStream(a._http)
        seqs = []
        for e in job.events(_stream=stream):
            seqs.append(e["seq"])
            if len(seqs) == 20:
                # Cut the connection under the stream (not close(): the stream goes on).
                stream._res.fp.raw._sock.shutdown(2)
            # The first events may all come from the history (a fast trainer has hundreds by
            # now): read on until the cut stream has reconnected.
            if len(seqs) >= 200 and stream.connects >= 2:
                break
            self.assertLess(len(seqs), 200_000, "the cut stream reconnected")
        self.assertEqual(stream.connects, 2)
        self.assertIsNotNone(stream.last_event_id)
        assert_in_order(self, seqs)
        job.stop()
        self.assertEqual(job.wait(), "stopped")

    def test_events_resume_across_an_agent_restart(self) -> None:
        a = Agent()
        job = long_job(self, a)
        running(job)
        old = a.url
        stream = EventStream(a._http)
        seqs = []
        restarted = False
        for e in job.events(_stream=stream):
            seqs.append(e["seq"])
            if len(seqs) == 30 and not restarted:
                agent_process().restart()  # on another free port: the client re-reads the connection file
                restarted = True
            if restarted and len(seqs) >= 30 and e.get("type") == "progress" and e["data"].get("event") == "epoch_end" and stream.connects >= 2:
                break
        self.assertTrue(restarted)
        self.assertNotEqual(a.url, old, "the agent came back on another port, found again from its connection file")
        self.assertGreaterEqual(stream.connects, 2)
        assert_in_order(self, seqs)
        # Stopped through the re-attached job channel: the closing events reach the new agent.
        job.stop()
        self.assertEqual(job.wait(), "stopped")
        events = list(job.events())
        assert_in_order(self, [e["seq"] for e in events])
        self.assertEqual([e["status"] for e in events if e["type"] == "status"][-2:], ["uploading", "stopped"])
        self.assertEqual(events[-1]["type"], "job_complete", "the history ends with job_complete")
        self.assertEqual(sum(1 for e in events if e["type"] == "job_complete"), 1)


class Errors(unittest.TestCase):
    def test_wrong_token_is_auth_error(self) -> None:
        a = Agent(url=Agent().url, token="not-the-token-0123456789")
        with self.assertRaises(AuthError) as c:
            a.jobs()
        e = c.exception
        self.assertEqual((e.code, e.status), ("unauthorized", 401))
        self.assertIn("token", e.message)
        self.assertIsNone(e.__cause__)
        self.assertTrue(e.__suppress_context__, "no urllib traceback chained")

    def test_unknown_job_and_bad_config_are_api_errors(self) -> None:
        a = Agent()
        with self.assertRaises(ApiError) as c:
            a.job("no-such-job")
        self.assertEqual((c.exception.code, c.exception.status), ("not_found", 404))
        self.assertIn("no-such-job", c.exception.message)
        with self.assertRaises(ApiError) as c:
            train(a, DATASET, config=QUICK, max_epochs=0)
        self.assertEqual(c.exception.code, "bad_request")
        self.assertIn("max_epochs", c.exception.message)
        with self.assertRaises(ApiError) as c:
            train(a, os.path.join(TMP.name, "missing.pkg.slp"))
        self.assertIn("missing.pkg.slp", c.exception.message)

    def test_no_agent_at_a_url_is_unavailable(self) -> None:
        with self.assertRaises(ApiError) as c:
            Agent(url="http://127.0.0.1:9", token="x" * 20).health()
        self.assertEqual(c.exception.code, "unavailable")
        self.assertIn("http://127.0.0.1:9", c.exception.message)
        self.assertTrue(c.exception.__suppress_context__)

    def test_agent_not_found_after_it_stopped(self) -> None:
        agent_process().stop()
        try:
            with self.assertRaises(AgentNotFound) as c:
                Agent()
            self.assertIn("agent.json", c.exception.looked[0])
        finally:
            agent_process().start()


if __name__ == "__main__":
    unittest.main()
