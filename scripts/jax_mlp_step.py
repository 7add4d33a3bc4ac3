#!/usr/bin/env python3
"""The Fashion-MNIST MLP train step of samples/FashionMnist written in JAX, timed the way tools/DeviceCheck times ours.

784-256-10, Glorot-uniform weights and zero biases, ReLU, sparse softmax cross-entropy (mean over the batch), Adam
(lr 1e-3, beta1 0.9, beta2 0.999, eps 1e-8) written out, batch 128; one jitted step that returns the new parameters,
the new Adam state and the batch's loss and correct count (ours accumulates loss and accuracy too), with parameters
and optimizer state donated as ours are. Warm-up steps, then at least 200 timed steps, each waited for with
block_until_ready on everything it returns; then as many steps queued without waiting and one wait at the end
(pipelined_step_ms). Needs JAX alone (numpy comes with it).

    python3 scripts/jax_mlp_step.py [--data DIR] [--batch 128] [--warmup 50] [--steps 300] [--out FILE.json]

--data DIR reads the first batch of train-images-idx3-ubyte.gz / train-labels-idx1-ubyte.gz there (pixels / 255, as
XlaGen's loader does); without it the batch is synthetic (uniform [0,1) pixels, seed 42). Prints one JSON object:
{jax_version, device, median_step_ms, best_step_ms, mean_step_ms, samples_per_s, ...}; --out writes it to a file too.
"""
import argparse
import gzip
import json
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np


def glorot_uniform(key, fan_in, fan_out):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return jax.random.uniform(key, (fan_in, fan_out), jnp.float32, -limit, limit)


def init_params(seed):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    return {
        "w1": glorot_uniform(k1, 784, 256), "b1": jnp.zeros((256,), jnp.float32),
        "w2": glorot_uniform(k2, 256, 10), "b2": jnp.zeros((10,), jnp.float32),
    }


def logits_of(params, x):
    h = jax.nn.relu(x @ params["w1"] + params["b1"])
    return h @ params["w2"] + params["b2"]


def loss_and_correct(params, x, labels):
    logits = logits_of(params, x)
    logp = jax.nn.log_softmax(logits)
    loss = -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))
    correct = jnp.sum((jnp.argmax(logits, axis=1) == labels).astype(jnp.float32))
    return loss, correct


BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def train_step(params, opt, x, labels, lr):
    (loss, correct), grads = jax.value_and_grad(loss_and_correct, has_aux=True)(params, x, labels)
    t = opt["t"] + 1
    tf = t.astype(jnp.float32)
    m = jax.tree_util.tree_map(lambda m, g: BETA1 * m + (1 - BETA1) * g, opt["m"], grads)
    v = jax.tree_util.tree_map(lambda v, g: BETA2 * v + (1 - BETA2) * g * g, opt["v"], grads)
    scale = lr * jnp.sqrt(1 - BETA2 ** tf) / (1 - BETA1 ** tf)
    new_params = jax.tree_util.tree_map(lambda p, m, v: p - scale * m / (jnp.sqrt(v) + EPS), params, m, v)
    return new_params, {"m": m, "v": v, "t": t}, loss, correct


def first_batch(data_dir, batch):
    if data_dir is None:
        rng = np.random.default_rng(42)
        return (rng.random((batch, 784), dtype=np.float32), rng.integers(0, 10, size=batch).astype(np.int32),
                "synthetic uniform [0,1) images, seed 42")
    images_path = os.path.join(data_dir, "train-images-idx3-ubyte.gz")
    labels_path = os.path.join(data_dir, "train-labels-idx1-ubyte.gz")
    with gzip.open(images_path, "rb") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(labels_path, "rb") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    x = images[: batch * 784].reshape(batch, 784).astype(np.float32) / 255.0
    return x, labels[:batch].astype(np.int32), f"the first {batch} Fashion-MNIST training images"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.steps < 200:
        sys.exit("--steps must be at least 200")

    device = jax.devices()[0]
    x_host, y_host, what = first_batch(a.data, a.batch)
    x = jax.device_put(x_host, device)
    y = jax.device_put(y_host, device)
    lr = jax.device_put(jnp.float32(1e-3), device)
    params = jax.device_put(init_params(42), device)
    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    opt = {"m": zeros, "v": jax.tree_util.tree_map(jnp.zeros_like, params), "t": jnp.int32(0)}
    step = jax.jit(train_step, donate_argnums=(0, 1))

    t0 = time.perf_counter()
    params, opt, loss, correct = step(params, opt, x, y, lr)
    jax.block_until_ready((params, opt, loss, correct))
    compile_ms = (time.perf_counter() - t0) * 1e3

    times = []
    for i in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        params, opt, loss, correct = step(params, opt, x, y, lr)
        jax.block_until_ready((params, opt, loss, correct))
        dt = (time.perf_counter() - t0) * 1e3
        if i >= a.warmup:
            times.append(dt)
    # As many steps again, queued without waiting, then one wait: the throughput of a loop that never blocks.
    t0 = time.perf_counter()
    for _ in range(a.steps):
        params, opt, loss, correct = step(params, opt, x, y, lr)
    jax.block_until_ready((params, opt, loss, correct))
    pipelined_ms = (time.perf_counter() - t0) * 1e3 / a.steps
    final_loss = float(loss)
    if not np.isfinite(final_loss):
        sys.exit(f"the loss is {final_loss} after {a.warmup + 2 * a.steps + 1} steps")

    median = statistics.median(times)
    result = {
        "jax_version": jax.__version__,
        "device": f"{device.platform}:{device.device_kind}",
        "backend": jax.default_backend(),
        "batch": a.batch,
        "data": what,
        "warmup_steps": a.warmup,
        "timed_steps": a.steps,
        "first_call_ms": round(compile_ms, 3),
        "median_step_ms": round(median, 4),
        "best_step_ms": round(min(times), 4),
        "mean_step_ms": round(statistics.fmean(times), 4),
        "samples_per_s": round(a.batch / (median / 1e3), 1),
        "pipelined_step_ms": round(pipelined_ms, 4),
        "final_loss": final_loss,
        "sync": "jax.block_until_ready on the step's outputs",
    }
    text = json.dumps(result, indent=2)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
