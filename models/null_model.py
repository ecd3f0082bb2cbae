"""A null-graph cross-encoder: a real tokenizer and config with an ONNX graph that does almost
no work (logits[i] = 1e-6 * sum(input_ids[i] * attention_mask[i] + token_type_ids[i])), so a
benchmark through ``Reranker.rerank`` measures the host pipeline alone: input checks,
tokenization, packing, the ONNX Runtime call overhead, scoring and the response.

    python models/null_model.py SOURCE_MODEL_DIR OUT_DIR
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def build(source: Path, out: Path) -> Path:
    """Copies tokenizer.json and config.json from ``source`` and writes the null model.onnx."""
    import onnx
    from onnx import TensorProto, helper

    out.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "config.json"):
        shutil.copyfile(source / name, out / name)
    batch, length = "batch", "length"
    inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, [batch, length]) for n in ("input_ids", "attention_mask", "token_type_ids")]
    nodes = [
        helper.make_node("Mul", ["input_ids", "attention_mask"], ["masked"]),
        helper.make_node("Add", ["masked", "token_type_ids"], ["summed"]),
        helper.make_node("ReduceSum", ["summed", "axes"], ["total"], keepdims=1),
        helper.make_node("Cast", ["total"], ["total_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["total_f", "scale"], ["logits"]),
    ]
    initializers = [
        helper.make_tensor("axes", TensorProto.INT64, [1], [1]),
        helper.make_tensor("scale", TensorProto.FLOAT, [], [1e-6]),
    ]
    graph = helper.make_graph(nodes, "null", inputs, [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 1])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(out / "model.onnx"))
    return out


if __name__ == "__main__":
    print(build(Path(sys.argv[1]), Path(sys.argv[2])))
