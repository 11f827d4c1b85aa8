"""Routing brain benchmark: cold import, single-ticket latency on one core, batch throughput.

    python bench/router_bench.py [--model DIR|keyword] [--n 300] [--data FILE.csv]

Real complaints (../shared/data/comcast_fcc_2015) are the default input because ticket length
drives the cost (TF-IDF n-grams and encoder windows both grow with it). Prints one JSON object.
Run it on a quiet machine: other processes on the same core inflate p99.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "comcast_fcc_2015" / "complaints_labeled.csv"
FALLBACK_DATA = ROOT / "tests" / "fixtures" / "tiny_tickets.csv"


def cold_import_seconds(runs: int = 5) -> dict[str, float]:
    """Fresh interpreters: time to `import agent.router`, and to import + load the model + route one ticket."""
    code_import = "import time; t=time.perf_counter(); import agent.router; print(time.perf_counter()-t)"
    code_first = (
        "import time; t=time.perf_counter(); from agent.router import Router; from datalayer.types import Ticket; "
        "Router.load().route(Ticket(ticket_id='b', customer_id='c', description='internet down')); "
        "print(time.perf_counter()-t)"
    )
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "0"}

    def run(code: str) -> float:
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
        )
        return float(out.stdout.strip())

    run(code_import)  # warm the OS page cache and .pyc files: Lambda images are warm on disk too
    return {
        "import_router_s": statistics.median(run(code_import) for _ in range(runs)),
        "import_load_first_decision_s": statistics.median(run(code_first) for _ in range(max(2, runs // 2))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA if DEFAULT_DATA.exists() else FALLBACK_DATA)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()

    os.environ["SWITCHBOARD_ENCODER_THREADS"] = "1"
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as a 1-vCPU Lambda

    from rich.progress import track

    from agent.datasets import load_labelled
    from agent.router import Router
    from datalayer.types import Ticket

    data = load_labelled(args.data)
    texts = (data.texts * (args.n // len(data.texts) + 1))[: args.n]
    tickets = [Ticket(ticket_id=f"B{i}", customer_id="C1", description=t[:50_000]) for i, t in enumerate(texts)]
    router = Router.load(args.model)
    router.route(tickets[0])  # load the model and the encoder session outside the timings

    latencies = []
    for ticket in track(tickets, description="single tickets", transient=True):
        start = time.perf_counter()
        router.route(ticket)
        latencies.append((time.perf_counter() - start) * 1000)
    latencies.sort()

    start = time.perf_counter()
    for i in track(range(0, len(tickets), args.batch), description="batches", transient=True):
        router.route_batch(tickets[i : i + args.batch])
    throughput = len(tickets) / (time.perf_counter() - start)

    result = {
        "model_version": router.model_version,
        "data": str(args.data),
        "n": len(tickets),
        "mean_chars": statistics.mean(len(t) for t in texts),
        "single_ms": {
            "p50": latencies[len(latencies) // 2],
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        },
        "batch_tickets_per_s": throughput,
        **cold_import_seconds(),
        "cores": 1,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
