"""SmoothQuant-style scaling before int8 quantisation (Xiao et al., 2022).

Dynamic int8 quantises a MatMul's input with one scale for the whole tensor, so a few input
channels with large values (in BERT, the feed-forward down-projection's GELU outputs) set the
scale and every other channel loses its low bits. Scaling input channel j by 1/s_j and weight row
j by s_j leaves the product exact in fp32 and moves the range from the activations into the
weights, which are quantised per output channel:

    s_j = max|x_j| ** alpha / max|W_j| ** (1 - alpha)

max|x_j| is calibrated: the graph is run on calibration batches with the MatMuls' inputs as
extra outputs. The 1/s_j is a Mul node before the MatMul (a GELU sits between the MatMul before
and this one, so it cannot be folded there).

Measured (``python benchmarks/agreement.py MODEL --schemes all,smooth-down``: the down-projections
smoothed with alpha 0.5, calibrated on the probe set, then everything quantised) it makes int8
agree *less*: top-10 overlap with fp32 0.922 against 0.935 without it on the man-page model, 0.883
against 0.900 on the random head (alpha 0.8, or man-page calibration text: 0.91-0.92 on 50
queries). A likely reason, not measured: the outliers are in a few tokens more than in a few
channels, and a per-channel scale cannot move those.
The export does not use it; it stays here so that the claim can be measured again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["DEFAULT_ALPHA", "input_absmax", "smooth"]

DEFAULT_ALPHA = 0.5
SCALE_RANGE = (1e-2, 1e2)  # s_j is clipped here: a dead channel must not blow a weight row up


def input_absmax(model: Path, tensors: Sequence[str], batches: Iterable[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Per channel (last axis) max |value| of each of ``tensors`` over the real (unmasked)
    tokens of ``batches`` (the model's feeds), running ``model`` in ONNX Runtime unoptimised."""
    import onnx
    import onnxruntime as ort
    from onnx import helper

    m = onnx.load(str(model))
    have = {o.name for o in m.graph.output}
    for t in tensors:
        if t not in have:
            m.graph.output.append(helper.make_tensor_value_info(t, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep the tensors by their names
    session = ort.InferenceSession(m.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feeds_wanted = {i.name for i in session.get_inputs()}
    out: dict[str, np.ndarray] = {}
    for feeds in batches:
        real = feeds["attention_mask"].astype(bool).reshape(-1)
        values = session.run(list(tensors), {k: v for k, v in feeds.items() if k in feeds_wanted})
        for t, v in zip(tensors, values):
            v = np.abs(v.reshape(-1, v.shape[-1])[real]).max(axis=0)
            out[t] = np.maximum(out[t], v) if t in out else v
    if len(out) != len(set(tensors)):
        raise ValueError("input_absmax needs at least one calibration batch")
    return out


def smooth(src: Path, dst: Path, nodes: Sequence[str], batches: Iterable[dict[str, np.ndarray]], alpha: float = DEFAULT_ALPHA) -> None:
    """Writes ``src`` with the inputs of ``nodes`` (MatMuls or fused Attentions with a constant
    [K, N] weight as their second input) scaled as above, calibrated on ``batches``. The
    result computes the same function in fp32 (up to rounding)."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load(str(src))
    graph = m.graph
    weights = {i.name: i for i in graph.initializer}
    by_name = {n.name: n for n in graph.node}
    targets = [by_name[name] for name in nodes]
    for n in targets:
        if len(n.input) < 2 or n.input[1] not in weights:
            raise ValueError(f"{n.name} ({n.op_type}) has no constant weight to scale")
    shared = [w for w in {n.input[1] for n in targets} if sum(w in n.input for n in graph.node) > 1]
    if shared:
        raise ValueError(f"weights {shared} feed several nodes: scaling one node's would change the others")
    absmax = input_absmax(src, [n.input[0] for n in targets], batches)
    inserted: dict[str, onnx.NodeProto] = {}
    for n in targets:
        w = numpy_helper.to_array(weights[n.input[1]])  # [K, N]
        x_max = np.maximum(absmax[n.input[0]], 1e-5)
        w_max = np.maximum(np.abs(w).max(axis=1), 1e-5)
        s = np.clip(x_max**alpha / w_max ** (1 - alpha), *SCALE_RANGE).astype(np.float32)
        weights[n.input[1]].CopyFrom(numpy_helper.from_array((w * s[:, None]).astype(np.float32), n.input[1]))
        inverse = numpy_helper.from_array((1.0 / s).astype(np.float32), f"{n.name}/smooth_inverse")
        graph.initializer.append(inverse)
        scaled = f"{n.input[0]}/smoothed_for/{n.name}"
        inserted[n.name] = helper.make_node("Mul", [n.input[0], inverse.name], [scaled], name=f"{n.name}/smooth")
        n.input[0] = scaled
    order = []
    for n in graph.node:  # each Mul right before its MatMul: the graph stays topologically sorted
        if n.name in inserted:
            order.append(inserted[n.name])
        order.append(n)
    del graph.node[:]
    graph.node.extend(order)
    onnx.save(m, str(dst))
