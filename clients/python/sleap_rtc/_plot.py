"""The loss figure of job.plot() and job.live_plot() (matplotlib's Figure, no pyplot: no global
state, and no GUI backend needed)."""

from typing import Any, Dict, List


class LossFigure:
    def __init__(self, job_id: str) -> None:
        try:
            from matplotlib.figure import Figure
        except ImportError:
            raise ImportError("job.plot() needs matplotlib: pip install matplotlib (or use job.history())") from None
        self.figure = Figure(figsize=(7, 4))
        self.ax = self.figure.add_subplot(1, 1, 1)
        self.job_id = job_id
        (self.train,) = self.ax.plot([], [], "o-", label="train/loss", markersize=3)
        (self.val,) = self.ax.plot([], [], "s-", label="val/loss", markersize=3)
        self.ax.set_yscale("log")
        self.ax.set_xlabel("epoch")
        self.ax.set_ylabel("loss")
        self.ax.set_title(f"job {job_id}")
        self.ax.legend(loc="upper right")

    def update(self, points: List[Dict[str, Any]]) -> None:
        epochs = [p for p in points if p["event"] == "epoch_end"]
        for line, key in ((self.train, "train/loss"), (self.val, "val/loss")):
            xy = [(p["epoch"] + 1, p[key]) for p in epochs if isinstance(p.get(key), (int, float)) and p[key] > 0]
            line.set_data([x for x, _ in xy], [y for _, y in xy])
        self.ax.relim()
        self.ax.autoscale_view()
