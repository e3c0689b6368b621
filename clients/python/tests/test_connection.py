"""The data folder per platform (as src/core/paths.ts) and the connection file's rules."""

import json
import os
import subprocess
import sys
import tempfile
import unittest
from unittest import mock

from sleap_rtc import Agent, AgentNotFound, ApiError
from sleap_rtc._connection import connection_file, data_home, pid_alive, read_connection


class DataHome(unittest.TestCase):
    def test_explicit_then_env_win(self) -> None:
        self.assertEqual(data_home("/x/d", {"SLEAP_RTC_DATA": "/y"}, "linux", "/home/u"), "/x/d")
        self.assertEqual(data_home(None, {"SLEAP_RTC_DATA": "/y", "XDG_DATA_HOME": "/z"}, "linux", "/home/u"), "/y")
        self.assertEqual(data_home(None, {"SLEAP_RTC_DATA": "rel"}, "linux", "/home/u"), os.path.join(os.getcwd(), "rel"))

    def test_linux_xdg_absolute_only(self) -> None:
        self.assertEqual(data_home(None, {"XDG_DATA_HOME": "/xdg"}, "linux", "/home/u"), "/xdg/sleap-rtc")
        self.assertEqual(data_home(None, {"XDG_DATA_HOME": "rel"}, "linux", "/home/u"), "/home/u/.local/share/sleap-rtc")
        self.assertEqual(data_home(None, {}, "freebsd14", "/home/u"), "/home/u/.local/share/sleap-rtc")

    def test_macos(self) -> None:
        self.assertEqual(data_home(None, {"XDG_DATA_HOME": "/xdg"}, "darwin", "/Users/u"), "/Users/u/Library/Application Support/sleap-rtc")

    def test_windows_local_appdata(self) -> None:
        self.assertEqual(data_home(None, {"LOCALAPPDATA": "C:\\Users\\u\\AppData\\Local"}, "win32", "C:\\Users\\u"), "C:\\Users\\u\\AppData\\Local\\sleap-rtc")
        self.assertEqual(data_home(None, {"LOCALAPPDATA": "rel"}, "win32", "C:\\Users\\u"), "C:\\Users\\u\\AppData\\Local\\sleap-rtc")


def write_conn(data: str, value: object, mode: int = 0o600) -> str:
    path = connection_file(data)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(value if isinstance(value, str) else json.dumps(value))
    os.chmod(path, mode)
    return path


GOOD = {"url": "http://127.0.0.1:1", "token": "t" * 32, "pid": os.getpid(), "version": "0.1.0"}


class ConnectionFile(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.data = self.tmp.name

    def tearDown(self) -> None:
        self.tmp.cleanup()

    def test_absent_and_not_json_mean_no_agent(self) -> None:
        self.assertIsNone(read_connection(self.data))
        write_conn(self.data, "{not json")
        self.assertIsNone(read_connection(self.data))

    def test_a_dead_pid_is_stale(self) -> None:
        p = subprocess.Popen([sys.executable, "-c", "pass"])
        p.wait()
        write_conn(self.data, {**GOOD, "pid": p.pid})
        self.assertFalse(pid_alive(p.pid))
        self.assertIsNone(read_connection(self.data))

    def test_a_live_pid_is_used(self) -> None:
        write_conn(self.data, GOOD)
        self.assertEqual(read_connection(self.data), GOOD)

    def test_another_users_process_counts_as_alive(self) -> None:
        # What os.kill(pid, 0) raises for a process of another user (EPERM).
        with mock.patch("os.kill", side_effect=PermissionError(1, "Operation not permitted")):
            self.assertTrue(pid_alive(4242))

    def test_a_live_pids_bad_file_is_config_invalid(self) -> None:
        path = write_conn(self.data, {**GOOD, "token": "short"})
        with self.assertRaises(ApiError) as c:
            read_connection(self.data)
        self.assertEqual(c.exception.code, "config_invalid")
        self.assertIn(path, c.exception.message)

    @unittest.skipIf(os.name != "posix", "mode bits are POSIX")  # the CI runs Linux: never skipped there
    def test_a_file_others_may_read_is_forbidden(self) -> None:
        write_conn(self.data, GOOD, 0o644)
        with self.assertRaises(ApiError) as c:
            read_connection(self.data)
        self.assertEqual(c.exception.code, "forbidden")
        self.assertIn("chmod 600", c.exception.message)

    def test_agent_not_found_names_where_it_looked(self) -> None:
        with self.assertRaises(AgentNotFound) as c:
            Agent(data=self.data)
        e = c.exception
        self.assertEqual(e.looked, [connection_file(self.data)])
        self.assertIn(connection_file(self.data), str(e))
        self.assertIn("sleap-rtc agent --data", str(e))
        self.assertIsNone(e.__cause__)

    def test_data_from_the_environment(self) -> None:
        with mock.patch.dict(os.environ, {"SLEAP_RTC_DATA": self.data}):
            with self.assertRaises(AgentNotFound) as c:
                Agent()
        self.assertEqual(c.exception.looked, [connection_file(self.data)])


if __name__ == "__main__":
    unittest.main()
