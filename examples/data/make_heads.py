"""Writes the example pipeline's two model files, deterministically, with the standard library
only (a safetensors file is an 8-byte little-endian header length, a JSON header, raw data):

* `router.safetensors`: an MoE gate over MiniLM's 384-dimensional embeddings, `weight`
  [8 experts, 384] and a correction `bias` [8];
* `quality_head.safetensors`: a one-class linear head, `weight` [1, 384] and `bias` [1].

The weights are pseudo-random (a fixed linear congruential sequence), not trained: the example
shows the pipeline's stages, not a real router or classifier. Run from the repository root:
`python3 examples/data/make_heads.py`.
"""

import json
import struct
from pathlib import Path

DIM = 384


def sequence(seed: int):
    state = seed
    while True:
        state = (state * 6364136223846793005 + 1442695040888963407) % 2**64
        yield ((state >> 40) / 2**24) * 2.0 - 1.0


def write(path: Path, tensors: dict) -> None:
    header, data = {}, b""
    for name, (shape, values) in tensors.items():
        raw = struct.pack(f"<{len(values)}f", *values)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def main() -> None:
    here = Path(__file__).parent
    values = sequence(2024)
    experts = 8
    router = [next(values) * 0.1 for _ in range(experts * DIM)]
    bias = [next(values) * 0.01 for _ in range(experts)]
    write(here / "router.safetensors", {"weight": ([experts, DIM], router), "bias": ([experts], bias)})
    head = [next(values) * 0.1 for _ in range(DIM)]
    write(here / "quality_head.safetensors", {"weight": ([1, DIM], head), "bias": ([1], [0.5])})


if __name__ == "__main__":
    main()
