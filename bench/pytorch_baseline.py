#!/usr/bin/env python3
"""PyTorch baseline for the GPU benchmark: torchvision ResNet-50 (random weights) in eager
FP32, TF32, FP16 channels-last and BF16 channels-last, plus torch.compile on FP16
channels-last, timed with CUDA events (median of repeated runs, GPU compute only: inputs
already on the device). Writes one JSON object to --out."""
import argparse
import json
import statistics
import subprocess
import sys
import time

import torch
import torchvision


SECONDS = 1.5  # per measurement (--seconds)


def time_model(model, x, seconds=None, min_runs=10, max_runs=200):
    seconds = SECONDS if seconds is None else seconds
    with torch.inference_mode():
        for _ in range(5):
            model(x)
        torch.cuda.synchronize()
        times = []
        start_wall = time.time()
        while len(times) < min_runs or (len(times) < max_runs and time.time() - start_wall < seconds):
            start = torch.cuda.Event(enable_timing=True)
            stop = torch.cuda.Event(enable_timing=True)
            start.record()
            model(x)
            stop.record()
            stop.synchronize()
            times.append(start.elapsed_time(stop))
    return statistics.median(times), len(times)


def make(mode):
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = mode == "tf32"
    model = torchvision.models.resnet50().cuda().eval()
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(mode, torch.float32)
    model = model.to(dtype)
    fmt = torch.channels_last if mode in ("fp16", "bf16") else torch.contiguous_format
    return model.to(memory_format=fmt), dtype, fmt


def run_eager(batches):
    out = []
    for mode in ("fp32", "tf32", "fp16", "bf16"):
        model, dtype, fmt = make(mode)
        for b in batches:
            x = torch.randn(b, 3, 224, 224, device="cuda", dtype=dtype).to(memory_format=fmt)
            ms, runs = time_model(model, x)
            label = mode if mode in ("fp32", "tf32") else mode + "_channels_last"
            out.append({"variant": "eager_" + label, "batch": b, "compute_ms_median": ms,
                        "images_per_s": b * 1000.0 / ms, "runs": runs})
            print(f"torch eager {label:18} batch {b:3}: {ms:8.3f} ms ({b * 1000.0 / ms:8.0f} img/s)", flush=True)
        del model
        torch.cuda.empty_cache()
    return out


def run_compiled(batch, mode):
    model, dtype, fmt = make("fp16")
    compiled = torch.compile(model, mode=mode)
    x = torch.randn(batch, 3, 224, 224, device="cuda", dtype=dtype).to(memory_format=fmt)
    ms, runs = time_model(compiled, x)
    return {"variant": f"compile_{mode}_fp16_channels_last", "batch": batch, "compute_ms_median": ms,
            "images_per_s": batch * 1000.0 / ms, "runs": runs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--batches", default="1,8,64,256")
    ap.add_argument("--compile-mode", default="max-autotune", help="torch.compile mode, or none to skip it")
    ap.add_argument("--seconds", type=float, default=1.5, help="timing window per measurement")
    ap.add_argument("--compile-timeout", type=int, default=150, help="seconds per torch.compile run")
    ap.add_argument("--compile-batches", default="1,256", help="batch sizes torch.compile is measured at")
    ap.add_argument("--compile-one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    global SECONDS
    SECONDS = args.seconds
    if args.compile_one:
        print(json.dumps(run_compiled(int(args.compile_one), args.compile_mode)))
        return
    batches = [int(b) for b in args.batches.split(",")]
    results = {"torch": torch.__version__, "torchvision": torchvision.__version__,
               "gpu": torch.cuda.get_device_name(0), "runs": run_eager(batches)}
    compile_batches = [int(b) for b in args.compile_batches.split(",")] if args.compile_mode != "none" else []
    for b in compile_batches:
        cmd = [sys.executable, __file__, "--out", "-", "--compile-one", str(b), "--compile-mode", args.compile_mode,
               "--seconds", str(args.seconds)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=args.compile_timeout)
            line = [l for l in p.stdout.splitlines() if l.startswith("{")]
            if line:
                r = json.loads(line[-1])
                results["runs"].append(r)
                print(f"torch {r['variant']} batch {b}: {r['compute_ms_median']:.3f} ms", flush=True)
            else:
                results["runs"].append({"variant": f"compile_{args.compile_mode}", "batch": b,
                                        "error": p.stderr[-500:]})
        except subprocess.TimeoutExpired:
            results["runs"].append({"variant": f"compile_{args.compile_mode}", "batch": b,
                                    "error": f"not finished within {args.compile_timeout} s"})
            print(f"torch compile batch {b}: timed out after {args.compile_timeout} s", flush=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
