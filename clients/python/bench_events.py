"""Measures the Python client (not a test): the client's import time, and how long an event takes
from the worker sending it to ``job.events()`` giving it (the worker stamps each event with
``t``, its send time in ms; worker and client share this machine's clock).

    npm start                                   # a stack with its agent, in another terminal
    /usr/bin/python3 clients/python/bench_events.py [dataset.pkg.slp] [--events N]

The dataset defaults to $SLEAP_RTC_DATASET. Prints one line per figure.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def import_time_ms(runs: int = 15) -> tuple:
    """Median wall time of `python3 -c "import sleap_rtc"` minus that of `python3 -c pass`."""

    def run(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": HERE})
        return (time.perf_counter() - t0) * 1000

    base = statistics.median(run("pass") for _ in range(runs))
    full = statistics.median(run("import sleap_rtc") for _ in range(runs))
    return full - base, base


def pct(xs: list, p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", nargs="?", default=os.environ.get("SLEAP_RTC_DATASET"))
    ap.add_argument("--events", type=int, default=2000, help="live events to measure (default 2000)")
    ap.add_argument("--hidden-units", type=int, default=2048, help="the builtin model's width: wider is slower per batch, fewer events a second (default 2048)")
    a = ap.parse_args()
    if not a.dataset:
        sys.exit("give a dataset (or set SLEAP_RTC_DATASET)")
    extra, base = import_time_ms()
    print(f"import sleap_rtc: {extra:.1f} ms (median of 15 fresh interpreters, over {base:.1f} ms for python3 -c pass)")

    sys.path.insert(0, HERE)
    from sleap_rtc import Agent

    agent = Agent()
    up = agent.upload(a.dataset, progress=False)
    job = agent.train(up, config={"trainer": "builtin", "model_config": {"builtin": {"hidden_units": a.hidden_units}}, "trainer_config": {"max_epochs": 100000, "min_train_steps_per_epoch": 20}})
    lat = []
    try:
        live = False
        for e in job.events():
            now = time.time() * 1000
            if not live:
                # Events read back from the history are old by design; measure from the first
                # event that arrived over the stream within a second of being sent.
                live = e["type"] == "progress" and now - e["t"] < 1000
                if not live:
                    continue
                job_t0 = time.monotonic()
            lat.append(now - e["t"])
            job_t1 = time.monotonic()
            if len(lat) >= a.events:
                break
    finally:
        if not job.refresh().done:
            job.cancel()
            job.wait()
    rate = len(lat) / max(1e-9, (job_t1 - job_t0))
    print(f"worker -> job.events(): p50 {pct(lat, 50):.1f} ms, p99 {pct(lat, 99):.1f} ms, max {max(lat):.1f} ms over {len(lat)} events ({rate:.0f} events/s, hidden_units {a.hidden_units})")


if __name__ == "__main__":
    main()
