#!/usr/bin/env python3
"""Measure the tolerance profiles against PyTorch's CPU bf16 and f16 convolutions (docs/HUNTING.md).

For realistic layers: the worst norm-wise relative error max|got − ref| / max|ref| of *correct*
low-precision results (forward, dx, dw; inputs given in f32 and rounded by the library, as a
hunt with --dtype f32 --profile bf16 hands them over), against the f64 reference; and the error
of two planted bugs — one kernel tap missing on the first output row, one input-channel group
dropped in one 8×8 output tile — next to each profile's rtol = 3·u_s + 2·√K·u_a.
Usage: python3 benches/profiles.py      Needs: pip install torch numpy"""
import math
import torch
import torch.nn.functional as F

torch.manual_seed(0)
U = {"bf16": (2.0**-8, 2.0**-24), "f16": (2.0**-11, 2.0**-11)}
DT = {"bf16": torch.bfloat16, "f16": torch.float16}
# name, N, C_in, C_out, spatial, kernel, stride, padding, groups, transpose
LAYERS = [
    ("resnet-3x3", 2, 64, 64, (28, 28), (3, 3), 1, 1, 1, False),
    ("resnet-1x1", 2, 256, 64, (28, 28), (1, 1), 1, 0, 1, False),
    ("convnext-dw7", 2, 96, 96, (28, 28), (7, 7), 1, 3, 96, False),
    ("dw31", 1, 32, 32, (32, 32), (31, 31), 1, 15, 32, False),
    ("1d-k65", 2, 16, 16, (1024,), (65,), 1, 32, 1, False),
    ("stem-7x7-s2", 2, 3, 64, (64, 64), (7, 7), 2, 3, 1, False),
    ("dcgan-t4x4-s2", 2, 128, 64, (8, 8), (4, 4), 2, 1, 1, True),
    ("3d-k3", 1, 8, 8, (8, 8, 8), (3, 3, 3), 1, 1, 1, False),
]
CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
TCONV = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}

def run(L, x, w, dy):
    _, n, ci, co, sp, k, s, p, g, tr = L
    f = (TCONV if tr else CONV)[len(sp)]
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    y = f(x, w, stride=s, padding=p, groups=g)
    dx, dw = torch.autograd.grad(y, (x, w), grad_outputs=dy.to(y.dtype))
    return y.detach(), dx, dw

def rel(got, ref):
    return ((got.double() - ref).abs().max() / ref.abs().max()).item()

def rtol(p, k):
    us, ua = U[p]
    return 3 * us + 2 * math.sqrt(k) * ua

print(f"{'layer':15s} {'dtype':5s} {'K_y':>6s} {'y err':>8s} {'dx err':>8s} {'dw err':>8s} {'rtol_y':>8s} {'tap bug':>8s} {'group bug':>9s}  (bug errors on y)")
worst = {"bf16": 0.0, "f16": 0.0}
for L in LAYERS:
    name, n, ci, co, sp, k, s, p, g, tr = L
    x = torch.randn((n, ci) + sp)
    w = torch.randn(((ci, co // g) if tr else (co, ci // g)) + k)
    with torch.no_grad():
        f = (TCONV if tr else CONV)[len(sp)]
        y64 = f(x.double(), w.double(), stride=s, padding=p, groups=g)
    dy = torch.randn(y64.shape)
    y64, dx64, dw64 = run(L, x.double(), w.double(), dy.double())
    k_y = (ci // g) * math.prod(k)
    # Planted bugs, in f64: the tap that reads x[0, …, 0] missing on output row 0 (the tap at
    # the padding offset: lower taps read zeros there); group 0 missing in one 8×8 tile.
    w_tap = w.double().clone(); w_tap[(slice(None), slice(None)) + tuple(min(p, kk - 1) for kk in k)] = 0
    with torch.no_grad():
        y_tap = f(x.double(), w_tap, stride=s, padding=p, groups=g)
    bug = y64.clone(); bug[(slice(None), slice(None), 0)] = y_tap[(slice(None), slice(None), 0)]
    tap_err = rel(bug, y64)
    xg = x.double().clone(); xg[:, : max(1, ci // max(g, 8) if g == 1 else 1)] = 0
    with torch.no_grad():
        y_grp = f(xg, w.double(), stride=s, padding=p, groups=g)
    tile = (slice(None), slice(None)) + tuple(slice(0, 8) for _ in sp)
    bug = y64.clone(); bug[tile] = y_grp[tile]
    grp_err = rel(bug, y64)
    for prof in ("bf16", "f16"):
        try:
            y, dx, dw = run(L, x.to(DT[prof]), w.to(DT[prof]), dy)
        except RuntimeError as e:
            print(f"{name:15s} {prof:5s} not supported: {str(e)[:60]}")
            continue
        e = (rel(y, y64), rel(dx, dx64), rel(dw, dw64))
        worst[prof] = max(worst[prof], e[0])
        print(f"{name:15s} {prof:5s} {k_y:6d} {e[0]:8.1e} {e[1]:8.1e} {e[2]:8.1e} {rtol(prof, k_y):8.1e} {tap_err:8.1e} {grp_err:9.1e}")
print("worst forward error:", {p: f"{v:.1e}" for p, v in worst.items()})
