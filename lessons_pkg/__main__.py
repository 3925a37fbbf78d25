"""``python -m lessons_pkg``: report, print or apply the reproducible CPU mode.

    python -m lessons_pkg              # is this process in the mode? (one line)
    python -m lessons_pkg env          # the mode as shell ``export`` lines
    python -m lessons_pkg run CMD ...  # run CMD with the mode's environment, e.g. jupyter lab
"""

from __future__ import annotations

import os
import sys

import torch

from lessons_pkg.device import REPRODUCIBLE_CPU_ENV, describe_numerics


def main(argv: list[str]) -> int:
    if argv[:1] == ["env"] and len(argv) == 1:
        for key, value in REPRODUCIBLE_CPU_ENV.items():
            print(f"export {key}={value}")
        return 0
    if argv[:1] == ["run"] and len(argv) > 1:
        os.environ.update(REPRODUCIBLE_CPU_ENV)
        os.execvp(argv[1], argv[1:])  # does not return
    if argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    print(describe_numerics(torch.device("cpu")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
