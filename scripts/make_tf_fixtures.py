#!/usr/bin/env python3
"""Writes the TensorFlow test fixtures in tests/tf/fixtures/ (committed, so CI needs no
TensorFlow): small frozen graphs and TF1-style SavedModels covering every op the
TensorFlow frontend supports, with seeded inputs and TensorFlow's outputs as .npy.

  python3 scripts/make_tf_fixtures.py [OUT_DIR]      (needs: pip install tensorflow-cpu)
"""
import os
import pathlib
import shutil
import sys

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

v1 = tf.compat.v1
v1.disable_eager_execution()

OUT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[1] / "tests" / "tf" / "fixtures")


def conv_weights(rng, h, w, cin, cout):
    return (rng.standard_normal((h, w, cin, cout)) * np.sqrt(2.0 / (h * w * cin))).astype(np.float32)


def build_convnet(data_format, rng):
    """A small image classifier touching every supported op. Returns (input, probabilities, classes)."""
    x = v1.placeholder(tf.float32, [None, 16, 16, 3], name="input")
    nchw = data_format == "NCHW"
    h = tf.transpose(x, [0, 3, 1, 2]) if nchw else x
    strides = lambda s: [1, 1, s, s] if nchw else [1, s, s, 1]
    chan = 1 if nchw else 3

    def var(name, value):
        return v1.get_variable(name, initializer=tf.constant(value))

    def conv(h, name, kh, cin, cout, stride=1, padding="SAME", dilation=1):
        w = var(name + "/kernel", conv_weights(rng, kh, kh, cin, cout))
        b = var(name + "/bias", (rng.standard_normal(cout) * 0.1).astype(np.float32))
        dil = [1, 1, dilation, dilation] if nchw else [1, dilation, dilation, 1]
        y = tf.nn.conv2d(h, w, strides=strides(stride), padding=padding, data_format=data_format, dilations=dil)
        return tf.nn.bias_add(y, b, data_format=data_format)

    def bn(h, name, c):
        scale = var(name + "/gamma", (1 + 0.1 * rng.standard_normal(c)).astype(np.float32))
        offset = var(name + "/beta", (0.1 * rng.standard_normal(c)).astype(np.float32))
        mean = var(name + "/moving_mean", (0.1 * rng.standard_normal(c)).astype(np.float32))
        variance = var(name + "/moving_variance", (0.5 + rng.random(c)).astype(np.float32))
        y, _, _ = v1.nn.fused_batch_norm(h, scale, offset, mean, variance, epsilon=1e-3,
                                         data_format=data_format, is_training=False)
        return y

    h = tf.nn.relu(bn(conv(h, "conv1", 3, 3, 8), "bn1", 8))                      # Conv2D SAME, FusedBatchNormV3, Relu
    h = tf.nn.max_pool2d(h, 3, strides(1)[1:3] if not nchw else 1, "SAME", data_format=data_format)  # MaxPool
    shortcut = h
    h = tf.nn.relu6(conv(h, "conv2", 3, 8, 8, dilation=2))                        # dilated conv, Relu6
    dw = var("dw/kernel", (rng.standard_normal((3, 3, 8, 1)) * 0.3).astype(np.float32))
    h = tf.nn.depthwise_conv2d(h, dw, strides(1), "SAME", data_format=data_format)  # DepthwiseConv2dNative
    h = tf.add(h, shortcut)                                                       # AddV2 residual
    h = h * 0.5 - 0.1                                                             # Mul, Sub with scalars
    paddings = [[0, 0], [0, 0], [1, 1], [1, 1]] if nchw else [[0, 0], [1, 1], [1, 1], [0, 0]]
    h = tf.pad(h, paddings)                                                       # Pad
    h = conv(h, "conv3", 3, 8, 16, stride=2, padding="VALID")                     # VALID stride 2
    a = tf.nn.avg_pool2d(h, 2, 1, "VALID", data_format=data_format)               # AvgPool
    b = tf.nn.relu(a)
    h = tf.concat([a, b], axis=chan)                                              # ConcatV2 on channels
    h = tf.reduce_mean(h, axis=[2, 3] if nchw else [1, 2], keepdims=True)         # Mean keep_dims
    h = tf.squeeze(h, axis=[2, 3] if nchw else [1, 2])                            # Squeeze
    batch = tf.shape(h)[0]                                                        # Shape, StridedSlice
    h = tf.reshape(h, tf.stack([batch, -1]))                                      # Pack, Reshape
    w = var("fc/kernel", (rng.standard_normal((32, 10)) * 0.2).astype(np.float32))
    bfc = var("fc/bias", (rng.standard_normal(10) * 0.1).astype(np.float32))
    logits = tf.nn.bias_add(tf.matmul(h, w), bfc)                                 # MatMul, BiasAdd
    probs = tf.nn.softmax(logits, name="probabilities")                           # Softmax
    classes = tf.cast(tf.argmax(logits, axis=1), tf.int32, name="classes")        # ArgMax, Cast
    return x, probs, classes


def write_fixture(name, data_format, resource_variables, rng):
    tf.compat.v1.reset_default_graph()
    if resource_variables:
        v1.enable_resource_variables()
    else:
        v1.disable_resource_variables()
    x, probs, classes = build_convnet(data_format, rng)
    inp = rng.standard_normal((2, 16, 16, 3)).astype(np.float32)
    out_dir = OUT / name
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        p, c = sess.run([probs, classes], {x: inp})
        np.save(out_dir / "input.npy", inp)
        np.save(out_dir / "probabilities.npy", p)
        np.save(out_dir / "classes.npy", c)
        frozen = v1.graph_util.convert_variables_to_constants(
            sess, sess.graph.as_graph_def(), ["probabilities", "classes"])
        (out_dir / "frozen.pb").write_bytes(frozen.SerializeToString())
        builder = v1.saved_model.Builder(str(out_dir / "saved_model"))
        sig = v1.saved_model.predict_signature_def(inputs={"input": x},
                                                   outputs={"probabilities": probs, "classes": classes})
        builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig})
        builder.save()
    print(f"wrote {out_dir}")


def main():
    rng = np.random.default_rng(2026)
    write_fixture("convnet_nhwc", "NHWC", False, rng)
    write_fixture("convnet_nhwc_resource", "NHWC", True, rng)
    try:
        write_fixture("convnet_nchw", "NCHW", False, rng)
    except Exception as e:  # TensorFlow's CPU kernels may refuse NCHW convolutions
        print(f"skipped convnet_nchw: {str(e).splitlines()[0]}")
        shutil.rmtree(OUT / "convnet_nchw", ignore_errors=True)


if __name__ == "__main__":
    main()
