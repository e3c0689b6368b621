"""The local agent: found from its connection file, or given by url= and token=."""

import json
import os
from typing import Any, Dict, List, Optional, Tuple, Union

from ._connection import connection_file, data_home, read_connection
from ._http import Http, seg
from .errors import AgentNotFound, ApiError
from .job import Job
from .upload import Upload

ConfigArg = Union[None, Dict[str, Any], str, "os.PathLike[str]"]


class Agent:
    """A client of the agent's HTTP API.

    ``Agent()`` reads ``<data>/agent/agent.json`` of the data folder (``data=``, else
    $SLEAP_RTC_DATA, else the platform's default, as the agent itself picks it) and follows the
    agent there when it restarts on another port. ``Agent(url=..., token=...)`` talks to one URL
    (the token defaults to ``<data>/agent/token``)."""

    def __init__(self, url: Optional[str] = None, token: Optional[str] = None, data: Optional[str] = None, timeout: float = 30.0) -> None:
        self.data_dir = data_home(data)
        if url is not None:
            if token is None:
                token = self._token_file()
            self._http = Http(url, token, timeout)
        else:
            found = self._locate()
            if found is None:
                file = connection_file(self.data_dir)
                raise AgentNotFound(
                    f"no agent is running for the data folder {self.data_dir} ({file} is missing, or names a process that has ended): "
                    f"start one with `sleap-rtc agent --data {self.data_dir}` or `sleap-rtc stack --data {self.data_dir}` (npm start), "
                    "or pass Agent(url=..., token=...), or data= / $SLEAP_RTC_DATA for another data folder",
                    looked=[file],
                )
            self._http = Http(found[0], found[1], timeout, locate=self._locate)

    def _locate(self) -> Optional[Tuple[str, str]]:
        c = read_connection(self.data_dir)
        return None if c is None else (c["url"], c["token"])

    def _token_file(self) -> str:
        file = os.path.join(self.data_dir, "agent", "token")
        try:
            with open(file, encoding="utf-8") as f:
                return f.read().strip()
        except OSError as e:
            raise AgentNotFound(f"no token given and cannot read {file} ({e.strerror}): pass token=, or data= for the agent's data folder", looked=[file]) from None

    @property
    def url(self) -> str:
        return self._http.url

    def __repr__(self) -> str:
        return f"Agent(url={self.url!r})"

    def health(self) -> Dict[str, Any]:
        """GET /health: ``{status: "ok", version, pid}``."""
        h = self._http.call("GET", "/health", auth=False, timeout=5)
        if not isinstance(h, dict) or h.get("status") != "ok":
            raise ApiError("upstream_error", f"{self.url}/health did not answer {{status: \"ok\", version, pid}}: it is not a sleap-rtc agent")
        return h

    # -- uploads ----------------------------------------------------------------------------
    def upload(self, path: Union[str, "os.PathLike[str]"], wait: bool = True, progress: bool = True) -> Upload:
        """Uploads a dataset (a .slp / .pkg.slp / .zip file, or a folder holding one) to the room's
        bucket; with ``wait`` follows it to its end with a progress bar (tqdm when installed)."""
        u = Upload(self, self._http.call("POST", "/api/uploads", {"path": os.path.abspath(os.fspath(path))}))
        return u.wait(progress=progress) if wait else u

    def uploads(self) -> List[Upload]:
        return [Upload(self, v) for v in self._http.call("GET", "/api/uploads")["uploads"]]

    # -- jobs -------------------------------------------------------------------------------
    def train(self, dataset: Union[str, "os.PathLike[str]", Upload], config: ConfigArg = None, max_epochs: Optional[int] = None, worker: Optional[str] = None) -> Job:
        """Submits a training job. ``dataset``: a local path (the agent uploads it first, reusing a
        finished upload of the unchanged file), an ``s3://`` path in the room, or an Upload.
        ``config``: a dict, a JSON or YAML file (YAML needs PyYAML), or None (the builtin trainer's
        defaults); ``max_epochs`` sets trainer_config.max_epochs."""
        if isinstance(dataset, Upload):
            ds = dataset.s3_path or dataset.path
        else:
            ds = os.fspath(dataset)
            if not ds.startswith("s3://"):
                ds = os.path.abspath(ds)
        cfg = load_config(config)
        if max_epochs is not None:
            cfg["trainer_config"] = {**(cfg.get("trainer_config") or {}), "max_epochs": int(max_epochs)}
        body: Dict[str, Any] = {"dataset": ds, "config": cfg}
        if worker is not None:
            body["worker"] = worker
        return Job(self, self._http.call("POST", "/api/jobs", body))

    def jobs(self) -> List[Job]:
        return [Job(self, v) for v in self._http.call("GET", "/api/jobs")["jobs"]]

    def job(self, id: str) -> Job:
        return Job(self, {"id": id, "status": "queued"}).refresh()

    def workers(self) -> List[Dict[str, Any]]:
        """The room's workers (peer id, properties, status)."""
        return self._http.call("GET", "/api/workers")["workers"]

    # -- models -----------------------------------------------------------------------------
    def models(self) -> List[Dict[str, Any]]:
        """The room's models, from its manifest."""
        return self._http.call("GET", "/api/models")["models"]

    def model(self, id: str) -> Dict[str, Any]:
        return self._http.call("GET", f"/api/models/{seg(id)}")

    def download_model(self, id: str, dest: Union[str, "os.PathLike[str]"] = ".") -> Dict[str, Any]:
        """Downloads every file of a model (SHA-256 verified) into ``dest/<model id>/``;
        returns ``{model_id, dest, files: [{name, path, size, sha256}]}``."""
        return self._http.call("POST", f"/api/models/{seg(id)}/download", {"dest": os.path.abspath(os.fspath(dest))}, timeout=max(self._http.timeout, 600))


def load_config(config: ConfigArg) -> Dict[str, Any]:
    if config is None:
        return {}
    if isinstance(config, dict):
        return json.loads(json.dumps(config))  # a copy, and refused early when not JSON
    path = os.fspath(config)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ApiError("bad_request", f"cannot read the config {path} ({e.strerror}): give a JSON or YAML file, or a dict") from None
    if path.lower().endswith(".json"):
        try:
            parsed = json.loads(text)
        except ValueError as e:
            raise ApiError("bad_request", f"the config {path} is not valid JSON: {e}") from None
    else:
        try:
            import yaml
        except ImportError:
            raise ApiError("bad_request", f"the config {path} is YAML, which needs PyYAML (pip install pyyaml): or pass a JSON file or a dict") from None
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ApiError("bad_request", f"the config {path} is not valid YAML: {e}") from None
    if not isinstance(parsed, dict):
        raise ApiError("bad_request", f"the config {path} must be a mapping (data_config, model_config, trainer_config)")
    return parsed
