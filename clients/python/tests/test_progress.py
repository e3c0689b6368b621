"""The upload progress bar: tqdm when installed, the plain line when tqdm cannot be imported."""

import io
import sys
import unittest
from unittest import mock

from sleap_rtc._progress import fmt_bytes, progress_bar


class Progress(unittest.TestCase):
    def test_sizes_as_the_cli_writes_them(self) -> None:
        self.assertEqual([fmt_bytes(n) for n in (0, 1023, 1536, 10 * 1024**2 + 1, 150 * 1024**3)], ["0 B", "1023 B", "1.50 KiB", "10.0 MiB", "150 GiB"])

    def test_tqdm_when_installed(self) -> None:
        out = io.StringIO()
        bar = progress_bar(4 * 1024**2, "labels.pkg.slp", out)
        self.assertEqual(bar.kind, "tqdm")
        bar.update_to(2 * 1024**2)
        bar.update_to(4 * 1024**2)
        bar.close()
        self.assertIn("labels.pkg.slp", out.getvalue())
        self.assertIn("100%", out.getvalue())
        self.assertIn("4.00M", out.getvalue())  # tqdm's own units (unit_scale, divisor 1024)

    def test_plain_line_without_tqdm(self) -> None:
        out = io.StringIO()
        # None in sys.modules makes `import tqdm` raise ImportError, as when it is not installed.
        with mock.patch.dict(sys.modules, {"tqdm": None, "tqdm.auto": None}):
            bar = progress_bar(4 * 1024**2, "labels.pkg.slp", out)
        self.assertEqual(bar.kind, "plain")
        bar.update_to(1024**2)
        bar.update_to(4 * 1024**2)
        bar.close()
        text = out.getvalue()
        self.assertTrue(text.endswith("\rlabels.pkg.slp: 4.00 MiB / 4.00 MiB (100%)\n"), repr(text))
        self.assertIn("\rlabels.pkg.slp: 1.00 MiB / 4.00 MiB (25%)", text)


if __name__ == "__main__":
    unittest.main()
