"""Python side of SwiftFL's prediction interop tests (Tests/FLCLITests/ModelPredictInteropTests.swift).

  predict_interop.py README MODEL DATA OUT.json

Runs the numpy example of the README (the ```python block after the <!-- numpy-predict --> marker), with
its `model, data = ...` line pointed at MODEL and DATA, and computes the same prediction independently with
the safetensors package (the wheel of this folder, unzipped on PYTHONPATH) and the csv module. Writes
{"readme": {"predictions": [...], "probabilities": [[...]]}, "reference": {...}}.
"""
import contextlib
import csv
import io
import json
import re
import sys

import numpy as np
from safetensors import safe_open  # the wheel, unzipped
from safetensors.numpy import load_file


def readme_example(readme):
    text = open(readme, encoding="utf-8").read()
    match = re.search(r"<!-- numpy-predict -->\s*```python\n(.*?)```", text, re.S)
    if not match:
        sys.exit("%s has no ```python block after <!-- numpy-predict -->" % readme)
    return match.group(1)


def run_readme(readme, model, data):
    code, n = re.subn(r"^model, data = .*$", "model, data = %r, %r" % (model, data), readme_example(readme), count=1, flags=re.M)
    if n != 1:
        sys.exit("the README's example has no `model, data = ...` line")
    namespace = {}
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its result; we read `p`
        exec(compile(code, "README.md (numpy example)", "exec"), namespace)
    return np.asarray(namespace["p"])


def reference(model, data):
    tensors = load_file(model)
    with safe_open(model, framework="numpy") as f:
        meta = f.metadata()
    with open(data, newline="") as f:
        rows = [row for row in csv.reader(f, skipinitialspace=True) if row]
    keep = [i for i, name in enumerate(rows[0]) if name.strip() != meta["swiftfl.label_column"]]
    x = np.array([[float(row[i]) for i in keep] for row in rows[1:]], dtype=np.float32)
    if "preprocess.mean" in tensors:
        x = (x - tensors["preprocess.mean"]) / tensors["preprocess.scale"]
    hidden = [int(w) for w in meta.get("swiftfl.hidden_layers", "").split(",") if w]
    for layer in range(len(hidden) + 1):
        x = x @ tensors["dense_%d.weight" % layer].T + tensors["dense_%d.bias" % layer]
        if layer < len(hidden):
            x = np.maximum(x, 0) if meta["swiftfl.activation"] == "relu" else np.tanh(x)
    z = np.exp(x - x.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def describe(p):
    return {"predictions": [int(c) for c in p.argmax(axis=1)], "probabilities": [[float(v) for v in row] for row in p],
            "dtype": str(p.dtype)}


def main():
    readme, model, data, out = sys.argv[1:5]
    json.dump({"readme": describe(run_readme(readme, model, data)), "reference": describe(reference(model, data))}, open(out, "w"))


if __name__ == "__main__":
    main()
