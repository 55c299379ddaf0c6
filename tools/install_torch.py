"""Install the CPU build of torch into the running Python, as `make install` does first.

On Linux, `pip install torch` from PyPI brings the CUDA build and its NVIDIA libraries (gigabytes).
PyTorch's own CPU index serves a CPU-only wheel instead, so this script asks that index when it
answers within `--wait` seconds, and falls back to the default index when it does not (an offline
mirror, a proxy that only lets PyPI through). On macOS and Windows the default index's wheel is
already the CPU build. The pip command it runs is printed first.

    python tools/install_torch.py                 # torch==2.13.0, CPU build where possible
    python tools/install_torch.py --dry-run       # print the pip command only
"""
from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import time
import urllib.error
import urllib.request

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
VERSION = "2.13.0"


def reachable(index: str, wait: float) -> bool:
    """Whether `index` serves torch's project page within `wait` seconds."""
    try:
        with urllib.request.urlopen(f"{index.rstrip('/')}/torch/", timeout=wait) as r:
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def pip_command(index: str, wait: float, system: str, version: str = VERSION) -> list[str]:
    """The pip command: the CPU index on Linux when it answers, else the default index."""
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", f"torch=={version}"]
    if system == "Linux" and reachable(index, wait):
        # The CPU index also serves torch's dependencies; PyPI stays as the extra index for the rest.
        cmd += ["--index-url", index, "--extra-index-url", "https://pypi.org/simple"]
    return cmd


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--index", default=CPU_INDEX, help=f"the CPU wheel index (default {CPU_INDEX})")
    p.add_argument("--wait", type=float, default=10.0, help="seconds to wait for the index (default 10)")
    p.add_argument("--version", default=VERSION, help=f"torch's version (default {VERSION})")
    p.add_argument("--system", default=platform.system(), help="the OS, as platform.system() names it")
    p.add_argument("--dry-run", action="store_true", help="print the pip command, install nothing")
    args = p.parse_args(argv)
    if not 0 < args.wait <= 60:
        p.error(f"--wait must be in (0, 60] seconds, got {args.wait}")
    start = time.perf_counter()
    cmd = pip_command(args.index, args.wait, args.system, args.version)
    where = "PyTorch's CPU index" if "--index-url" in cmd else "the default index"
    print(f"torch=={args.version} from {where} (chosen in {time.perf_counter() - start:.1f} s): {' '.join(cmd[2:])}",
          flush=True)
    return 0 if args.dry_run else subprocess.call(cmd)


if __name__ == "__main__":
    sys.exit(main())
