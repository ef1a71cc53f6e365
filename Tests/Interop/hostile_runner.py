#!/usr/bin/env python3
"""A hostile site for SwiftFL's external-runner protocol (swiftfl-external-task, version 1), for
the robust-aggregation benchmark and tests: it never trains. It sends the federation's last step
back sign-flipped and scaled, `global + SCALE * (previous - global)` (SCALE 10 by default, from the
plan's `settings.custom.hostile_scale`), so the model is pushed hard against where honest training
took it, and it claims an ordinary sample count so the rule, not the weight, must stop it.

Pure Python (no numpy): safetensors is an 8-byte header length, a JSON header, then raw data.
"""
import json
import os
import struct
import sys
from array import array


def read_safetensors(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"hostile_runner: {name} is {info['dtype']}, expected F32")
        start, end = info["data_offsets"]
        values = array("f")
        values.frombytes(data[start:end])
        tensors[name] = (info["shape"], values)
    return tensors


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, (shape, values) in tensors.items():
        blob = values.tobytes()
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    os.replace(path + ".tmp", path)


def main():
    if sys.byteorder != "little":
        raise SystemExit("hostile_runner: safetensors is little-endian; this machine is not")
    request = json.load(open(os.environ["SWIFTFL_TASK_REQUEST"]))
    if request.get("protocol") != "swiftfl-external-task" or request.get("version") != 1:
        raise SystemExit("hostile_runner: unknown protocol")
    function = request["function"]
    result = {"metrics": {"loss": 1.0, "accuracy": 0.1}, "sample_count": 180}
    if function == "train":
        scale = float(((request["settings"] or {}).get("custom") or {}).get("hostile_scale", 10))
        tensors = read_safetensors(request["model"]["path"])
        # The previous global model, kept by this site between rounds.
        memory = os.path.join(request["workspace"], f"hostile-{request['collaborator']}.safetensors")
        previous = read_safetensors(memory) if os.path.exists(memory) else tensors
        write_safetensors(memory, tensors)
        output = {}
        for name, (shape, values) in tensors.items():
            if name.startswith("preprocess."):
                output[name] = (shape, values)
                continue
            before = previous[name][1]
            output[name] = (shape, array("f", (v + scale * (b - v) for v, b in zip(values, before))))
        write_safetensors(request["outputs"]["model"], output)
    elif function not in ("validate",):
        raise SystemExit(f"hostile_runner: cannot {function}")
    with open(request["outputs"]["result"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
