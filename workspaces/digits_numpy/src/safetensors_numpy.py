"""A minimal safetensors reader and writer for numpy: an 8-byte little-endian header length, a JSON
header {name: {dtype, shape, data_offsets}} (plus an optional "__metadata__" of strings), then the
raw little-endian bytes of each tensor. https://github.com/huggingface/safetensors"""
import json
import struct

import numpy as np

DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "|i1",
          "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "|u1", "BOOL": "|b1"}
NAMES = {code: name for name, code in DTYPES.items()}


def load(path):
    """Returns ({name: array}, metadata); the arrays share one writable buffer."""
    with open(path, "rb") as f:
        buf = bytearray(f.read())
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8:8 + n])
    metadata = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        dtype = np.dtype(DTYPES[t["dtype"]])
        begin, end = t["data_offsets"]
        tensors[name] = np.frombuffer(buf, dtype, (end - begin) // dtype.itemsize, 8 + n + begin).reshape(t["shape"])
    return tensors, metadata


def save(path, tensors, metadata=None):
    """Writes {name: array} in the dict's order; metadata is a dict of strings."""
    header, chunks, offset = ({"__metadata__": metadata} if metadata else {}), [], 0
    for name, array in tensors.items():
        a = np.asarray(array)
        a = a.astype(a.dtype.newbyteorder("<"), order="C", copy=False)  # not ascontiguousarray: it makes scalars 1-D
        header[name] = {"dtype": NAMES[a.dtype.str], "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        chunks.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
