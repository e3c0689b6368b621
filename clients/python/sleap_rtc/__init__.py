"""Python client of the SLEAP RTC local agent (standard library only; tqdm, pandas and matplotlib
are used when installed).

    from sleap_rtc import Agent
    agent = Agent()                      # finds the agent from <data>/agent/agent.json
    up = agent.upload("labels.pkg.slp")  # progress bar, returns once uploaded
    job = agent.train(up, max_epochs=20)
    job.live_plot()                      # in a notebook
    agent.download_model(job.model["model_id"], "models")
"""

from .agent import Agent
from .errors import AgentNotFound, ApiError, AuthError, SleapRtcError
from .job import Job
from .upload import Upload

__all__ = ["Agent", "AgentNotFound", "ApiError", "AuthError", "Job", "SleapRtcError", "Upload"]
__version__ = "0.1.0"
