#!/usr/bin/env python3
"""fftconv hunt adapter (HUNT.md) for JAX/XLA: lax.conv_general_dilated, conv_transpose as the
vjp of the convolution with respect to its input, gradients by jax.vjp, padding modes through
jnp.pad. Run: fftconv hunt --exec 'python3 examples/adapters/jax_adapter.py'
Needs: pip install jax jaxlib numpy."""
import json, os, sys, tomllib
import numpy as np
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
from jax import lax

MODES = {"circular": "wrap", "reflect": "reflect", "replicate": "edge"}

def layer(case, nd):
    pads, mode = [tuple(p) for p in case["padding"]], case.get("padding_mode", "zeros")
    dn = ("NC" + "DHW"[3 - nd:], "OI" + "DHW"[3 - nd:], "NC" + "DHW"[3 - nd:])
    kw = dict(window_strides=case["stride"], rhs_dilation=case["dilation"],
              feature_group_count=case["groups"], dimension_numbers=dn)
    def conv(x, w):
        if mode != "zeros":
            x = jnp.pad(x, [(0, 0), (0, 0)] + pads, mode=MODES[mode])
            return lax.conv_general_dilated(x, w, padding=[(0, 0)] * nd, **kw)
        return lax.conv_general_dilated(x, w, padding=pads, **kw)
    def transpose(x, w):  # the adjoint of conv in its input (CASES.md), output size by the formula
        s, d, k, op = case["stride"], case["dilation"], w.shape[2:], case.get("output_padding", [0] * nd)
        size = [(x.shape[2 + a] - 1) * s[a] - sum(pads[a]) + d[a] * (k[a] - 1) + op[a] + 1 for a in range(nd)]
        z = jnp.zeros((x.shape[0], w.shape[1] * case["groups"]) + tuple(size), x.dtype)
        y, pullback = jax.vjp(lambda z: conv(z, w), z)
        # Output padding on an axis with stride 1 makes conv(z) longer than x: x is zero-extended.
        return pullback(jnp.pad(x, [(0, 0), (0, 0)] + [(0, y.shape[2 + a] - x.shape[2 + a]) for a in range(nd)]))[0]
    return conv if case["op"] == "conv" else transpose

def compute(folder, want):
    case = tomllib.load(open(os.path.join(folder, "case.toml"), "rb"))
    files = case["inputs"]
    load = lambda k: jnp.asarray(np.load(os.path.join(folder, files[k])))
    x, w = load("x"), load("w")
    b = load("b") if "b" in files else jnp.zeros((0,), x.dtype)
    f = layer(case, x.ndim - 2)
    def full(x, w, b):
        y = f(x, w)
        return y + b.reshape((1, -1) + (1,) * (x.ndim - 2)) if b.size else y
    y, pullback = jax.vjp(full, x, w, b)
    out = {"y": y}
    if {"dx", "dw", "db"} & set(want):
        out["dx"], out["dw"], out["db"] = pullback(load("dy"))
    for name in want:
        np.save(os.path.join(folder, name + ".npy"), np.asarray(out[name]))

for line in sys.stdin:
    req = json.loads(line)
    if req.get("quit"):
        break
    try:
        compute(req["dir"], req["want"])
        reply = {"id": req["id"], "ok": True}
    except Exception as e:
        reply = {"id": req["id"], "ok": False, "error": " ".join(str(e).split())[:300]}
    print(json.dumps(reply), flush=True)
