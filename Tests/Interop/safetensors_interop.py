"""Python side of SwiftFL's safetensors interop tests (Tests/FLTrainingTests/ExternalSafetensorsInteropTests.swift).

Runs with the safetensors wheel of this folder unzipped on PYTHONPATH, and the numpy reader/writer
of workspaces/digits_numpy/src (the example shipped to users) imported from the repository.

  read FILE OUT.json         read FILE with safetensors.numpy and with safetensors_numpy; write, per
                             reader, each tensor's dtype, shape and raw little-endian bytes (hex),
                             plus the metadata
  write SPEC.json DIR        SPEC: {"tensors": [{"name", "dtype", "shape", "hex"}], "metadata": {...}};
                             write DIR/reference.safetensors with safetensors.numpy.save_file and
                             DIR/numpy.safetensors with safetensors_numpy.save (in SPEC's order)
  cast SPEC.json OUT.json    each tensor of SPEC cast to float32 by numpy (astype), as hex
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "workspaces", "digits_numpy", "src"))

import safetensors  # noqa: E402  (the wheel, unzipped)
from safetensors import safe_open  # noqa: E402
from safetensors.numpy import load_file, save_file  # noqa: E402
import safetensors_numpy  # noqa: E402


def describe(tensors):
    out = {}
    for name, a in tensors.items():
        little = a.dtype.newbyteorder("<")
        out[name] = {"dtype": safetensors_numpy.NAMES[little.str], "shape": list(a.shape),
                     "hex": a.astype(little, order="C").tobytes().hex()}
    return out


def arrays(spec):
    out = {}
    for t in spec["tensors"]:
        dtype = np.dtype(safetensors_numpy.DTYPES[t["dtype"]])
        out[t["name"]] = np.frombuffer(bytes.fromhex(t["hex"]), dtype).reshape(t["shape"])
    return out


def main():
    command = sys.argv[1]
    if command == "read":
        path, out = sys.argv[2], sys.argv[3]
        with safe_open(path, framework="numpy") as f:
            metadata = f.metadata() or {}
            order = list(f.keys())
        ours, our_metadata = safetensors_numpy.load(path)
        result = {"version": safetensors.__version__, "reference": describe(load_file(path)), "reference_metadata": metadata,
                  "reference_keys": order, "numpy": describe(ours), "numpy_metadata": our_metadata}
        json.dump(result, open(out, "w"))
    elif command == "write":
        spec, directory = json.load(open(sys.argv[2])), sys.argv[3]
        tensors = arrays(spec)
        metadata = spec.get("metadata") or None
        save_file(tensors, os.path.join(directory, "reference.safetensors"), metadata=metadata)
        safetensors_numpy.save(os.path.join(directory, "numpy.safetensors"), tensors, metadata)
    elif command == "cast":
        spec, out = json.load(open(sys.argv[2])), sys.argv[3]
        json.dump({name: a.astype(np.float32).astype("<f4").tobytes().hex() for name, a in arrays(spec).items()}, open(out, "w"))
    else:
        sys.exit("unknown command %r" % command)


if __name__ == "__main__":
    main()
