"""Minimal safetensors reader and writer (no dependency on the safetensors package).

File layout: 8-byte little-endian u64 header length N, then N bytes of UTF-8 JSON
{name: {"dtype": "BF16"|"F16"|"F32", "shape": [...], "data_offsets": [begin, end]}, ...,
 "__metadata__": {str: str}} (padded with spaces to a multiple of 8), then the data section;
offsets are relative to the start of the data section. Tensors are row-major, little-endian.

Sharded checkpoints carry model.safetensors.index.json:
{"metadata": {"total_size": bytes}, "weight_map": {name: file}}.

All tensors are returned as float32 torch tensors (bf16/f16 upcast exactly).
"""

import json
import os
import struct

import numpy as np
import torch

DTYPE_SIZES = {"BF16": 2, "F16": 2, "F32": 4}
INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"


def _decode(dtype, raw, shape):
    if dtype == "F32":
        arr = np.frombuffer(raw, dtype="<f4").astype(np.float32)
    elif dtype == "F16":
        arr = np.frombuffer(raw, dtype="<f2").astype(np.float32)
    elif dtype == "BF16":
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        arr = bits.view(np.float32)
    else:
        raise ValueError(f"unsupported safetensors dtype {dtype}")
    return torch.from_numpy(arr.copy()).reshape(shape)


def _encode(dtype, tensor):
    t = tensor.detach().contiguous()
    if dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return t.to(torch.float16).numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        # torch rounds to nearest even when converting to bfloat16.
        return t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(f"unsupported safetensors dtype {dtype}")


def round_to_dtype(tensor, dtype):
    """What `tensor` becomes after a round trip through a file of `dtype`, as float32."""
    raw = _encode(dtype, tensor)
    return _decode(dtype, raw, list(tensor.shape))


def read_file(path):
    """Returns ({name: float32 tensor}, metadata dict or None, {name: dtype string})."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n:]
    meta = header.pop("__metadata__", None)
    tensors, dtypes = {}, {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        shape = info["shape"]
        count = 1
        for s in shape:
            count *= s
        if end - begin != count * DTYPE_SIZES[info["dtype"]] or end > len(data):
            raise ValueError(f"{path}: bad data_offsets for {name}")
        tensors[name] = _decode(info["dtype"], bytes(data[begin:end]), shape)
        dtypes[name] = info["dtype"]
    return tensors, meta, dtypes


def write_file(path, tensors, dtype, metadata=None):
    """Writes {name: tensor} with every tensor stored as `dtype`; names sorted."""
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        raw = _encode(dtype, tensors[name])
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata is not None:
        header["__metadata__"] = metadata
    hbytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hbytes += b" " * ((8 - len(hbytes) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hbytes)))
        f.write(hbytes)
        for c in chunks:
            f.write(c)
    return offset


def write_sharded(directory, tensors, dtype, num_shards, metadata=None):
    """Splits tensors (in name order) over num_shards files and writes the index."""
    names = sorted(tensors)
    per = (len(names) + num_shards - 1) // num_shards
    weight_map, total = {}, 0
    for s in range(num_shards):
        part = names[s * per:(s + 1) * per]
        fname = f"model-{s + 1:05d}-of-{num_shards:05d}.safetensors"
        total += write_file(os.path.join(directory, fname), {n: tensors[n] for n in part},
                            dtype, metadata)
        for n in part:
            weight_map[n] = fname
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(directory, INDEX_NAME), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)
        f.write("\n")


def load_dir(directory):
    """Loads every tensor of a HF-layout directory (single file or sharded with an index)."""
    index_path = os.path.join(directory, INDEX_NAME)
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
        tensors = {}
        for fname in sorted(set(index["weight_map"].values())):
            part, _, _ = read_file(os.path.join(directory, fname))
            for name, t in part.items():
                if index["weight_map"].get(name) != fname:
                    raise ValueError(f"{fname}: tensor {name} not mapped to this shard")
                tensors[name] = t
        missing = set(index["weight_map"]) - set(tensors)
        if missing:
            raise ValueError(f"index names tensors missing from shards: {sorted(missing)[:5]}")
        return tensors
    single = os.path.join(directory, SINGLE_NAME)
    if os.path.exists(single):
        return read_file(single)[0]
    raise FileNotFoundError(f"{directory}: neither {SINGLE_NAME} nor {INDEX_NAME}")
