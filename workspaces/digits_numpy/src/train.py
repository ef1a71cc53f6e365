"""Softmax regression on 8x8 digits with numpy, as a SwiftFL external task.

SwiftFL runs `python3 src/train.py` from the workspace folder once per task, with the environment
variable SWIFTFL_TASK_REQUEST naming a JSON request (docs/external-runner.md). This script reads
the request, does what its "function" asks (initialize, train or validate), and writes the model
(safetensors) and a JSON result with metrics and the number of rows it used.
"""
import json
import os
import sys

import numpy as np

from safetensors_numpy import load, save


def load_rows(data):
    """This site's rows: the CSV, then its shard of the file when sites share one."""
    path = data["path"]
    with open(path) as f:
        columns = f.readline().strip().split(",")
    table = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    label = columns.index(data["label_column"])
    x, y = np.delete(table, label, axis=1), table[:, label].astype(np.int64)
    split, index, count = data["split"], data["shard_index"], data["shard_count"]
    rng = np.random.default_rng(abs(data["split_seed"]))
    if split == "iid":
        rows = rng.permutation(len(y))[index::count]
    elif split == "dirichlet":  # label skew: each class divided among the sites in Dirichlet shares
        rows = []
        for c in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == c))
            cuts = (np.cumsum(rng.dirichlet([data["dirichlet_alpha"]] * count))[:-1] * len(members)).astype(int)
            rows.extend(np.split(members, cuts)[index])
        rows = np.sort(np.array(rows, dtype=np.int64))
    else:
        rows = np.arange(len(y))
    return x[rows], y[rows]


def local_split(data, tensors):
    """(train, validation), the same for every task of this site, standardised as the plan says:
    with the federation's statistics, which the model carries (preprocess.mean, preprocess.scale),
    or with this site's own training rows' (local)."""
    x, y = load_rows(data)
    order = np.random.default_rng([abs(data["split_seed"]), data["shard_index"], 1]).permutation(len(y))
    held = int(round(len(y) * data["validation_fraction"]))
    (xt, yt), (xv, yv) = (x[order[held:]], y[order[held:]]), (x[order[:held]], y[order[:held]])
    if data.get("standardization") == "federated":
        mean, scale = tensors["preprocess.mean"], tensors["preprocess.scale"]
        xt, xv = (xt - mean) / scale, (xv - mean) / scale
    elif data["standardize"]:
        mean, std = xt.mean(axis=0), xt.std(axis=0)
        std[std == 0] = 1
        xt, xv = (xt - mean) / std, (xv - mean) / std
    return (xt, yt), (xv, yv)


def forward(w, b, x, y):
    """Softmax probabilities, mean cross-entropy and accuracy."""
    logits = x @ w.T + b
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(y)), y] + 1e-12).mean()
    return p, float(loss), float((p.argmax(axis=1) == y).mean())


def train(w, b, x, y, epochs, batch, lr, seed, correction=None):
    """Minibatch SGD; `correction` (SCAFFOLD's c - c_i for w and b) is added to every gradient."""
    rng = np.random.default_rng(seed)
    loss = accuracy = 0.0
    steps = 0
    cw, cb = correction if correction is not None else (0.0, 0.0)
    for _ in range(epochs):
        order, losses, hits = rng.permutation(len(y)), [], 0
        for start in range(0, len(y), batch):
            rows = order[start:start + batch]
            p, l, a = forward(w, b, x[rows], y[rows])
            p[np.arange(len(rows)), y[rows]] -= 1  # gradient of the cross-entropy on the logits
            w -= lr * ((p.T @ x[rows]) / len(rows) + cw)
            b -= lr * (p.mean(axis=0) + cb)
            steps += 1
            losses.append(l * len(rows))
            hits += a * len(rows)
        loss, accuracy = sum(losses) / len(y), hits / len(y)
    return w, b, {"loss": loss, "accuracy": accuracy}, steps


def main():
    request = json.load(open(os.environ["SWIFTFL_TASK_REQUEST"]))
    if request["version"] != 1:
        sys.exit("this script speaks version 1 of the request protocol, got %r" % request["version"])
    # The preprocess tensors are the federation's standardizer, read below; the rest is the model.
    # Under SCAFFOLD the scaffold.* tensors are the correction to add to the gradients (below).
    shapes = {t["name"]: t["shape"] for t in request["model"]["tensors"] if not t["name"].startswith(("preprocess.", "scaffold."))}
    if set(shapes) != {"dense_0.weight", "dense_0.bias"}:
        sys.exit("src/train.py trains a softmax regression (dense_0.weight, dense_0.bias); the plan declares %s" % sorted(shapes))
    settings, function, outputs = request["settings"], request["function"], request["outputs"]

    if function == "initialize":
        classes, features = shapes["dense_0.weight"]
        limit = np.sqrt(6 / (classes + features))
        w = np.random.default_rng(settings.get("seed", 0)).uniform(-limit, limit, (classes, features))
        save(outputs["model"], {"dense_0.weight": w.astype(np.float32), "dense_0.bias": np.zeros(classes, np.float32)})
        return

    tensors, _ = load(request["model"]["path"])
    w, b = tensors["dense_0.weight"].astype(np.float64), tensors["dense_0.bias"].astype(np.float64)
    (xt, yt), (xv, yv) = local_split(request["data"], tensors)
    if function == "train":
        epochs = int(request["kwargs"].get("epochs", 1))
        # The plan's own settings for this script (task_runner.settings.custom), which SwiftFL passes on unchecked.
        custom = settings.get("custom") or {}
        lr = settings["learning_rate"] * float(custom.get("lr_decay", 1.0)) ** request["round"]
        correction = None
        if request.get("scaffold"):
            correction = (tensors["scaffold.dense_0.weight"].astype(np.float64), tensors["scaffold.dense_0.bias"].astype(np.float64))
        w, b, metrics, steps = train(w, b, xt, yt, epochs, request["data"]["batch_size"], lr, request["seed"], correction)
        save(outputs["model"], {"dense_0.weight": w.astype(np.float32), "dense_0.bias": b.astype(np.float32)})
        # steps and step_size let SwiftFL update this site's SCAFFOLD control variate (ignored otherwise).
        result = {"metrics": metrics, "sample_count": len(yt), "steps": steps, "step_size": lr}
    elif function == "validate":
        _, loss, accuracy = forward(w, b, xv, yv)
        result = {"metrics": {"loss": loss, "accuracy": accuracy}, "sample_count": len(yv)}
    else:
        sys.exit("unknown function %r" % function)
    with open(outputs["result"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
