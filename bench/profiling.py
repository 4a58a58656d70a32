"""Optional: sample the stack's processes with py-spy while a scenario is measured.

    BENCH_PROFILE=purchase,item_read make bench

writes `bench/results/profiles/<scenario>.<process>.txt` (py-spy's raw collapsed
stacks, one "frame;frame;... count" a line, what flamegraph tools read) and prints,
for each process, the functions that hold most samples (`python -m bench.profiling
FILE...` prints them again). Sampling is non-blocking, so it barely slows the run —
but do not compare the figures of a profiled run with others.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from bench.config import RESULTS_DIR

PROFILES_DIR = RESULTS_DIR / "profiles"
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")


class Sampler:
    """py-spy processes recording for the length of one measurement."""

    def __init__(self, scenario: str, pids: dict[str, int], seconds: float):
        self.outputs: dict[str, Path] = {}
        self._running: list[subprocess.Popen[bytes]] = []
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(py_spy).exists():
            raise RuntimeError("BENCH_PROFILE needs py-spy (pip install -e '.[bench]')")
        PROFILES_DIR.mkdir(parents=True, exist_ok=True)
        for name, pid in pids.items():
            output = PROFILES_DIR / f"{scenario}.{name}.txt"
            self.outputs[name] = output
            self._running.append(subprocess.Popen(  # noqa: S603
                [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)),
                 "--rate", "100", "--nonblocking", "--format", "raw", "--output", str(output)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))

    def wait(self, timeout: float = 60) -> None:
        for process in self._running:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


def _short(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match["file"]
    for marker in ("site-packages/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = path.rsplit("/main/", 1)[-1]
    return f"{match['function']} ({path})"


def summarise(path: Path, top: int = 12) -> dict[str, object]:
    """The samples of one profile, and the frames with the most samples: `self` where the
    sample was taken, `inclusive` anywhere on the stack."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [_short(frame) for frame in stack.split(";") if frame]
        if frames:
            own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return {
        "samples": total,
        "self": [(frame, round(100 * n / total, 1)) for frame, n in own.most_common(top)]
        if total else [],
        "inclusive": [(frame, round(100 * n / total, 1))
                      for frame, n in inclusive.most_common(top)] if total else [],
    }


def main(paths: list[str]) -> int:
    for name in paths:
        summary = summarise(Path(name))
        print(f"== {name}: {summary['samples']} samples")
        for kind in ("self", "inclusive"):
            print(f"  -- {kind}")
            for frame, percent in summary[kind]:  # type: ignore[union-attr]
                print(f"  {percent:5.1f}%  {frame}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
