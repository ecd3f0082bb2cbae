"""A model that costs nothing: the inputs of a real model, logits = 0 * (sum of the inputs).

With the real tokenizer and config beside it, ``Reranker.rerank`` on it measures everything but
the transformer: tokenization, packing, the ONNX Runtime call overhead and finalisation.

    python -m fastrerank.bench.null_model SOURCE_MODEL_DIR OUT_DIR
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from fastrerank.models import MODEL_FILES, TOKENIZER_FILES


def build(source: Path, out: Path) -> Path:
    """Writes OUT/model.onnx (the null graph) with SOURCE's tokenizer.json and config.json."""
    import onnx
    from onnx import TensorProto, helper

    config = json.loads((source / "config.json").read_text())
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if int(config.get("type_vocab_size", 0) or 0) > 1 else [])
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"]) for n in names]
    output = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1])
    nodes, summed = [], []
    for n in names:
        nodes.append(helper.make_node("Cast", [n], [f"{n}_f"], to=TensorProto.FLOAT))
        nodes.append(helper.make_node("ReduceSum", [f"{n}_f", "axis1"], [f"{n}_sum"], keepdims=1))
        summed.append(f"{n}_sum")
    nodes.append(helper.make_node("Sum", summed, ["total"]))
    nodes.append(helper.make_node("Mul", ["total", "zero"], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "null_reranker",
        inputs,
        [output],
        initializer=[helper.make_tensor("axis1", TensorProto.INT64, [1], [1]), helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(out / "model.onnx"))
    for name in (*MODEL_FILES, *TOKENIZER_FILES):
        if (source / name).is_file():
            shutil.copyfile(source / name, out / name)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python -m fastrerank.bench.null_model SOURCE_MODEL_DIR OUT_DIR")
    print(build(Path(sys.argv[1]), Path(sys.argv[2])))
