#!/usr/bin/env python3
"""The large TensorFlow check: a ResNet-v2-50 in the layout of TensorFlow's official
reference graph (NHWC placeholder, NCHW inside, 1001 classes, random weights), written as a
frozen graph and as a TF1 SavedModel, run by TensorFlow and by `kiln run` on the same
seeded input; passes when the probabilities agree within 1e-4 relative L2.

  python3 scripts/check_tf_resnet.py KILN_BIN [WORK_DIR]     (needs tensorflow-cpu)
"""
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tensorflow as tf  # noqa: E402

v1 = tf.compat.v1


def build_resnet_v2_50(rng):
    x = v1.placeholder(tf.float32, [None, 224, 224, 3], name="input_tensor")
    h = tf.transpose(x, [0, 3, 1, 2])
    counter = [0]

    def var(shape, scale):
        counter[0] += 1
        return v1.get_variable(f"v{counter[0]}", initializer=(rng.standard_normal(shape) * scale).astype(np.float32))

    def conv(h, k, cin, cout, stride):
        if stride > 1:  # the reference graph's fixed padding: pad explicitly, then VALID
            total = k - 1
            h = tf.pad(h, [[0, 0], [0, 0], [total // 2, total - total // 2], [total // 2, total - total // 2]])
        w = var((k, k, cin, cout), 0.7 * np.sqrt(2.0 / (k * k * cin)))
        return tf.nn.conv2d(h, w, [1, 1, stride, stride], "SAME" if stride == 1 else "VALID", data_format="NCHW")

    def bn_relu(h, c):
        gamma = v1.get_variable(f"g{counter[0]}_{c}", initializer=(1 + 0.05 * rng.standard_normal(c)).astype(np.float32))
        counter[0] += 1
        beta = var((c,), 0.05)
        mean = var((c,), 0.05)
        variance = v1.get_variable(f"var{counter[0]}", initializer=(1 + rng.random(c)).astype(np.float32))
        y, _, _ = v1.nn.fused_batch_norm(h, gamma, beta, mean, variance, epsilon=1e-5, data_format="NCHW",
                                         is_training=False)
        return tf.nn.relu(y)

    h = conv(h, 7, 3, 64, 2)
    h = tf.nn.max_pool2d(h, 3, [1, 1, 2, 2], "SAME", data_format="NCHW")
    cin = 64
    for filters, blocks, stride in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
        for b in range(blocks):
            s = stride if b == 0 else 1
            pre = bn_relu(h, cin)
            shortcut = conv(pre, 1, cin, 4 * filters, s) if b == 0 else h
            y = conv(pre, 1, cin, filters, 1)
            y = conv(bn_relu(y, filters), 3, filters, filters, s)
            y = conv(bn_relu(y, filters), 1, filters, 4 * filters, 1)
            h = y + shortcut
            cin = 4 * filters
    h = bn_relu(h, cin)
    h = tf.reduce_mean(h, [2, 3], keepdims=True)
    h = tf.squeeze(h, [2, 3])
    logits = tf.nn.bias_add(tf.matmul(h, var((cin, 1001), 0.5 / np.sqrt(cin))), var((1001,), 0.01), name="logits")
    probs = tf.nn.softmax(logits, name="softmax_tensor")
    classes = tf.argmax(logits, axis=1, name="ArgMax")
    return x, probs, classes


def kiln_probs(kiln, model, inp, work):
    in_path, out_path = work / "input.npy", work / "kiln_out.npy"
    np.save(in_path, inp)
    r = subprocess.run([kiln, "run", str(model), "--input-npy", str(in_path), "--output-npy", str(out_path)],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"kiln run failed on {model}:\n{r.stderr}")
    return np.load(out_path)


def rel_l2(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / max(np.linalg.norm(b), 1e-30))


def main():
    kiln = sys.argv[1]
    work = pathlib.Path(sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp(prefix="kiln-tf-resnet-"))
    work.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(50)
    v1.disable_eager_execution()
    v1.disable_resource_variables()
    x, probs, classes = build_resnet_v2_50(rng)
    inp = rng.uniform(-100, 150, (2, 224, 224, 3)).astype(np.float32)
    with v1.Session() as sess:
        sess.run(v1.global_variables_initializer())
        want = sess.run(probs, {x: inp})
        frozen = v1.graph_util.convert_variables_to_constants(sess, sess.graph.as_graph_def(),
                                                               ["softmax_tensor", "ArgMax"])
        (work / "resnetv2_imagenet_frozen_graph.pb").write_bytes(frozen.SerializeToString())
        saved = work / "resnet_v2_fp32_savedmodel_NCHW" / "1538687196"
        builder = v1.saved_model.Builder(str(saved))
        sig = v1.saved_model.predict_signature_def(inputs={"input": x},
                                                   outputs={"probabilities": probs, "classes": classes})
        builder.add_meta_graph_and_variables(sess, ["serve"], signature_def_map={"serving_default": sig})
        builder.save()
    print(f"TensorFlow top-1: {want.argmax(1)}, max prob {want.max():.3f}")
    ok = True
    for name, model in [("frozen graph", work / "resnetv2_imagenet_frozen_graph.pb"), ("SavedModel", saved)]:
        got = kiln_probs(kiln, model, inp, work)
        err = rel_l2(got, want)
        same_top1 = bool((got.argmax(1) == want.argmax(1)).all())
        print(f"{name}: relative L2 vs TensorFlow {err:.2e}, top-1 identical: {same_top1}")
        ok = ok and err < 1e-4 and same_top1
    print("TF ResNet-v2-50 check " + ("passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
