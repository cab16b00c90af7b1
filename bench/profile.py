"""Where a server spends its CPU under load: py-spy samples, summed into two short lists.

`python -m bench` runs this after its cells (`--profile`, on by default): for each query,
`py-spy record` samples CustomerGraph's process (all its threads) while `bench.load`
drives it, and the raw stacks are summed by function: **self** (where the CPU was spent)
and **total** (time under a function, for the project's own functions and the layers a
request crosses). The raw stacks stay in the run's directory.

    .venv/bin/python -m bench.profile STACKS.txt     # the two lists of a recorded file
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

# The layers a request crosses, for the "total" list (besides the project's own modules).
LAYERS = (
    "GraphQLEndpoint.__call__ (app.py)",
    "GraphQLEndpoint._direct (app.py)",
    "DirectLane.run (schema/direct/lane.py)",
    "DirectRun.execute (schema/direct/run.py)",
    "GraphQL.__call__ (strawberry/asgi/__init__.py)",
    "Schema.execute (strawberry/schema/schema.py)",
    "Run.execute (schema/execution/run.py)",
    "Executor.execute_operation (graphql/execution/executor.py)",
    "greenlet_spawn (sqlalchemy/util/concurrency.py)",
    "dispatch_queue_batch (aiodataloader/__init__.py)",
)
_FRAME = re.compile(r"(.*) \((.*?):\d+\)$")


@dataclass(frozen=True, slots=True)
class Profile:
    samples: int
    self_time: list[tuple[str, float]]  # (function, share of samples)
    total_time: list[tuple[str, float]]


def _name(frame: str) -> str:
    match = _FRAME.match(frame)
    if not match:
        return frame
    function, path = match.groups()
    if "site-packages/" in path:
        return f"{function} ({path.split('site-packages/', 1)[1]})"
    if "/lib/python3" in path:
        return f"{function} ({path.rsplit('/', 2)[-2]}/{path.rsplit('/', 1)[-1]})"
    return f"{function} ({path.split('/main/', 1)[-1] if '/main/' in path else path})"


def _ours(name: str) -> bool:
    path = name.rsplit("(", 1)[-1]
    return path.startswith(("app.py", "schema/", "resolvers/", "models/", "domain/"))


def summarise(stacks: str, top: int = 12) -> Profile:
    """The `--format raw` output of py-spy (one `frame;frame;... count` per line)."""
    own: Counter[str] = Counter()
    under: Counter[str] = Counter()
    total = 0
    for line in stacks.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        names = [_name(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not names:
            continue
        own[names[-1]] += samples
        for name in set(names):
            under[name] += samples
    if not total:
        return Profile(0, [], [])
    wanted = [(name, n) for name, n in under.most_common() if name in LAYERS or _ours(name)]
    return Profile(
        total,
        [(name, n / total) for name, n in own.most_common(top)],
        [(name, n / total) for name, n in wanted[:top]],
    )


def record(pid: int, seconds: float, out: Path) -> bool:
    """py-spy's raw stacks of `pid` (and its children) for `seconds`; False without py-spy."""
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which("py-spy")
    if spy is None:
        return False
    command = [spy, "record", "--pid", str(pid), "--subprocesses", "--rate", "250"]
    command += ["--duration", str(max(1, round(seconds))), "--format", "raw", "--output", str(out)]
    done = subprocess.run(command, capture_output=True, check=False)  # noqa: S603
    return done.returncode == 0 and out.exists()


def markdown(query: str, profile: Profile) -> str:
    lines = [f"**{query}**, {profile.samples:,} samples", ""]
    lines += ["| self | function | | total | function |", "|---:|---|---|---:|---|"]
    rows = max(len(profile.self_time), len(profile.total_time))
    for index in range(rows):
        left = profile.self_time[index] if index < len(profile.self_time) else ("", 0.0)
        right = profile.total_time[index] if index < len(profile.total_time) else ("", 0.0)
        lines.append(
            f"| {left[1]:.1%} | `{left[0]}` | | {right[1]:.1%} | `{right[0]}` |"
            if right[0]
            else f"| {left[1]:.1%} | `{left[0]}` | | | |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    for path in sys.argv[1:]:
        print(markdown(Path(path).stem, summarise(Path(path).read_text())))


if __name__ == "__main__":
    main()
