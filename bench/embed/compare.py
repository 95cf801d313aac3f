"""MiniLM throughput, Tarn against sentence-transformers (PyTorch, CPU), on the same texts and
the same number of threads in one run; run through bench/embed/run.sh.

The texts are synthetic sentences of a training corpus's spread of lengths (seeded, so every
run embeds the same ones): most 8-30 words, a tenth 60-200 words, which WordPiece cuts at 256
tokens as both engines do. Each engine embeds all of them `--repeat` times; the fastest run
counts. Tarn's f32 vectors are checked against sentence-transformers' (largest difference of
any coordinate) and the FP8 ones by cosine, so that the two figures are for the same answer.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

WORDS = """
the a of to and in is for on that with as by this from at are be or an it was which can not
data model training corpus token document quality filter language sentence embedding vector
river lake mountain weather forest valley ocean glacier rain snow wind summer winter harvest
engineer researcher student teacher reader writer scientist farmer pilot doctor musician
analysis benchmark evaluation parquet partition shuffle cluster worker memory throughput
learned measured improved reduced compared described observed trained deployed annotated
quickly carefully rarely often nearly slightly roughly exactly independently consistently
large small fresh noisy clean ancient modern distributed multilingual semantic statistical
because although while whereas however therefore moreover nevertheless meanwhile afterwards
photosynthesis thermodynamics interoperability deduplication tokenization hyperparameter
""".split()


def sentences(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        words = rng.randint(60, 200) if rng.random() < 0.1 else rng.randint(8, 30)
        text = " ".join(rng.choice(WORDS) for _ in range(words))
        out.append(text[0].upper() + text[1:] + rng.choice(".?!"))
    return out


def run_tarn(texts_path: Path, out: Path, threads: int, repeat: int) -> dict:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    proc = subprocess.run(
        ["cargo", "bench", "--quiet", "-p", "tarn-gpu", "--bench", "embed", "--",
         str(texts_path), str(out), str(repeat)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    if proc.returncode != 0:
        sys.exit(f"tarn's embed bench failed: {proc.stderr.strip().splitlines()[-1:]}")
    results = {}
    for line in proc.stdout.splitlines():
        record = json.loads(line)
        if "model_dir" in record:
            results["model_dir"] = record["model_dir"]
        else:
            results[record["precision"]] = record
    return results


def run_sentence_transformers(model_dir: str, texts: list[str], threads: int, repeat: int):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(model_dir, device="cpu")
    model.encode(texts[:64])  # first-call set-up, not throughput
    best, vectors = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        vectors = model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
        best = min(best, time.perf_counter() - start)
    return best, vectors, torch.__version__


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sentences", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    texts = sentences(args.sentences, seed=7)
    with tempfile.TemporaryDirectory() as tmp:
        texts_path = Path(tmp) / "texts.txt"
        texts_path.write_text("\n".join(texts) + "\n")
        tarn = run_tarn(texts_path, Path(tmp) / "embeddings", args.threads, args.repeat)
        f32 = np.fromfile(Path(tmp) / "embeddings.f32", dtype="<f4").reshape(len(texts), -1)
        fp8 = np.fromfile(Path(tmp) / "embeddings.fp8", dtype="<f4").reshape(len(texts), -1)
    st_seconds, st_vectors, torch_version = run_sentence_transformers(
        tarn["model_dir"], texts, args.threads, args.repeat)

    words = sum(len(t.split()) for t in texts)
    print(f"MiniLM (all-MiniLM-L6-v2), {len(texts)} sentences ({words} words), "
          f"{args.threads} threads, fastest of {args.repeat}; torch {torch_version}")
    print(f"f32 against sentence-transformers: largest coordinate difference "
          f"{np.abs(f32 - st_vectors).max():.2e}; FP8 smallest cosine "
          f"{(fp8 * st_vectors).sum(axis=1).min():.4f}")
    print(f"{'engine':<32}{'seconds':>9}{'texts/s':>10}{'per core':>10}{'ratio':>8}")
    rows = [("sentence-transformers (PyTorch)", st_seconds),
            ("tarn f32", tarn["f32"]["seconds"]),
            ("tarn fp8", tarn["fp8"]["seconds"])]
    for name, seconds in rows:
        rate = len(texts) / seconds
        print(f"{name:<32}{seconds:>9.2f}{rate:>10.0f}{rate / args.threads:>10.0f}"
              f"{st_seconds / seconds:>8.2f}")


if __name__ == "__main__":
    main()
