"""Accuracy on public intent benchmarks with the product's own two commands (train, evaluate).

    python bench/public_benchmarks.py [--only banking77|clinc150] [--out bench/results]

BANKING77: train on train.csv, evaluate on test.csv (77 labels; fine-tuned BERT: 93.66 %).
CLINC150 ("full"): train on train + oos_train, evaluate on test + oos_test (150 intents + oos);
reported both overall and in-scope only. Each step runs ``python -m agent.train`` /
``python -m agent.evaluate`` exactly as a user would, so the figures are the product's figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _run(*args: str) -> str:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def _train_and_evaluate(name: str, train_csv: Path, tests: dict[str, Path], work: Path, folds: int) -> dict:
    model = work / f"model-{name}"
    start = time.perf_counter()
    _run(
        "-m",
        "agent.train",
        "--data",
        str(train_csv),
        "--label-column",
        "category",
        "--out",
        str(model),
        "--folds",
        str(folds),
    )
    result: dict = {"train_seconds": time.perf_counter() - start}
    for split, path in tests.items():
        report = json.loads(
            _run(
                "-m",
                "agent.evaluate",
                "--data",
                str(path),
                "--model",
                str(model),
                "--label-column",
                "category",
                "--json",
            )
        )
        result[split] = {
            k: report[k]
            for k in (
                "n",
                "accuracy",
                "macro_f1",
                "ece",
                "manual_review_rate",
                "auto_accuracy",
                "latency_ms",
                "model_version",
            )
        }
    return result


def _clinc_csvs(work: Path) -> tuple[Path, Path, Path]:
    data = json.loads((SHARED / "clinc150" / "data_full.json").read_text())

    def write(path: Path, *splits: str) -> Path:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "category"])
            for split in splits:
                writer.writerows(data[split])
        return path

    return (
        write(work / "clinc_train.csv", "train", "oos_train"),
        write(work / "clinc_test.csv", "test", "oos_test"),
        write(work / "clinc_test_inscope.csv", "test"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["banking77", "clinc150"])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--folds", type=int, default=2, help="calibration folds (2 keeps 77/151-way training quick)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    if args.only in (None, "banking77"):
        b77 = SHARED / "banking77"
        results["banking77"] = _train_and_evaluate(
            "banking77", b77 / "train.csv", {"test": b77 / "test.csv"}, args.out, args.folds
        )
        print(json.dumps({"banking77": results["banking77"]}), flush=True)
    if args.only in (None, "clinc150"):
        train_csv, test_csv, inscope_csv = _clinc_csvs(args.out)
        results["clinc150"] = _train_and_evaluate(
            "clinc150", train_csv, {"test": test_csv, "test_inscope": inscope_csv}, args.out, args.folds
        )
        print(json.dumps({"clinc150": results["clinc150"]}), flush=True)
    (args.out / "public_benchmarks.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
