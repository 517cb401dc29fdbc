#!/usr/bin/env python3
"""fftconv hunt adapter (HUNT.md) for PyTorch: torch.nn.functional.convNd / conv_transposeNd,
gradients by autograd, padding modes through F.pad.
Run: fftconv hunt --exec 'python3 examples/adapters/torch_adapter.py'
Needs: pip install torch numpy (the default wheel runs on a CPU-only machine)."""
import json, os, sys, tomllib
import numpy as np
import torch
import torch.nn.functional as F

CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
TRANSPOSE = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}

def compute(folder, want):
    case = tomllib.load(open(os.path.join(folder, "case.toml"), "rb"))
    files = case["inputs"]
    load = lambda k: torch.from_numpy(np.load(os.path.join(folder, files[k]))).requires_grad_()
    x, w = load("x"), load("w")
    b = load("b") if "b" in files else None
    nd, pads, mode = x.dim() - 2, case["padding"], case.get("padding_mode", "zeros")
    symmetric = all(lo == hi for lo, hi in pads)
    kw = dict(stride=case["stride"], dilation=case["dilation"], groups=case["groups"])
    if case["op"] == "conv":
        if mode == "zeros" and symmetric:   # PyTorch's own padding path
            y = CONV[nd](x, w, b, padding=[lo for lo, _ in pads], **kw)
        else:                               # F.pad takes the last axis first
            flat = [p for lo_hi in reversed(pads) for p in lo_hi]
            xp = F.pad(x, flat) if mode == "zeros" else F.pad(x, flat, mode=mode)
            y = CONV[nd](xp, w, b, **kw)
    else:
        op = case.get("output_padding", [0] * nd)
        if symmetric:
            y = TRANSPOSE[nd](x, w, b, padding=[lo for lo, _ in pads], output_padding=op, **kw)
        else:                               # asymmetric: the full output, cropped per side
            y = TRANSPOSE[nd](x, w, b, output_padding=op, **kw)
            if any(lo + hi >= y.shape[2 + a] for a, (lo, hi) in enumerate(pads)):
                raise ValueError("padding removes the whole output")  # as PyTorch's own check
            y = y[(slice(None), slice(None)) + tuple(
                slice(lo, y.shape[2 + a] - hi) for a, (lo, hi) in enumerate(pads))]
    out = {"y": y}
    if {"dx", "dw", "db"} & set(want):
        dy = torch.from_numpy(np.load(os.path.join(folder, files["dy"])))
        y.backward(dy)
        out.update(dx=x.grad, dw=w.grad, db=None if b is None else b.grad)
    for name in want:
        np.save(os.path.join(folder, name + ".npy"), out[name].detach().numpy())

for line in sys.stdin:
    req = json.loads(line)
    if req.get("quit"):
        break
    try:
        compute(req["dir"], req["want"])
        reply = {"id": req["id"], "ok": True}
    except Exception as e:  # the library refused or raised: say so, on one line
        reply = {"id": req["id"], "ok": False, "error": " ".join(str(e).split())[:300]}
    print(json.dumps(reply), flush=True)
