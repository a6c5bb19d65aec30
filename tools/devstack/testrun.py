"""`make test`: the whole suite (unit, integration, e2e, fault) against real servers it starts.

pytest's exit code 5 (no test collected) is a failure here: a green run must have run tests.
"""

from __future__ import annotations

import os
import sys

import pytest


def main() -> int:
    args = ["-q", "-p", "no:cacheprovider", *sys.argv[1:]]
    if os.environ.get("CI") == "true":
        args += ["--durations=15"]
    code = int(pytest.main(args))
    return 1 if code == pytest.ExitCode.NO_TESTS_COLLECTED else code


if __name__ == "__main__":
    sys.exit(main())
