"""The client's exceptions: each carries the agent's own message, never a raw urllib traceback."""

from typing import Any, Dict, List, Optional


class SleapRtcError(Exception):
    """Base of every error this package raises."""


class AgentNotFound(SleapRtcError):
    """No agent runs where the client looked; ``looked`` lists those places (files, URLs)."""

    def __init__(self, message: str, looked: Optional[List[str]] = None) -> None:
        super().__init__(message)
        self.message = message
        self.looked = list(looked or [])


class ApiError(SleapRtcError):
    """The agent refused a request: its error ``code`` (e.g. ``not_found``) and ``message``."""

    def __init__(self, code: str, message: str, status: Optional[int] = None, details: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details = details or {}


class AuthError(ApiError):
    """The agent refused the token (HTTP 401) or the request's origin (403)."""
