"""Independent reference for tests/nn: writes a tiny random HF checkpoint and
the logits of a plain PyTorch forward written from the published
architectures (Llama: RMSNorm, RoPE, SwiGLU, GQA; Phi-2: LayerNorm, partial
rotary, parallel attention + MLP, gelu_new).

usage: reference_forward.py OUT_DIR FAMILY SEED [--shards N] [--tied] [--vocab V] [--nan]
Writes OUT_DIR/config.json, the weights, OUT_DIR/input_ids.json and
OUT_DIR/logits.bin (float32, [batch, seq, vocab], row-major).
"""
import json
import math
import os
import struct
import sys

import torch


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for name, t in tensors.items():
        data = t.contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def rope(x, pos, rot_dim, theta):
    inv = 1.0 / (theta ** (torch.arange(0, rot_dim, 2, dtype=torch.float64) / rot_dim))
    inv = inv.float()
    freqs = pos.float()[:, None] * inv[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    cos, sin = emb.cos(), emb.sin()
    xr, xp = x[..., :rot_dim], x[..., rot_dim:]
    return torch.cat([xr * cos + rotate_half(xr) * sin, xp], dim=-1)


def attention(x, w, prefix, cfg, rot_dim, out_name):
    b, s, _ = x.shape
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg["hidden_size"] // nh

    def lin(name, inp):
        y = inp @ w[prefix + name + ".weight"].T
        if prefix + name + ".bias" in w:
            y = y + w[prefix + name + ".bias"]
        return y

    q = lin("q_proj", x).view(b, s, nh, d).transpose(1, 2)
    k = lin("k_proj", x).view(b, s, nkv, d).transpose(1, 2)
    v = lin("v_proj", x).view(b, s, nkv, d).transpose(1, 2)
    pos = torch.arange(s)
    q = rope(q, pos, rot_dim, cfg["rope_theta"])
    k = rope(k, pos, rot_dim, cfg["rope_theta"])
    rep = nh // nkv
    k = k[:, :, None].expand(b, nkv, rep, s, d).reshape(b, nh, s, d)
    v = v[:, :, None].expand(b, nkv, rep, s, d).reshape(b, nh, s, d)
    att = (q @ k.transpose(-1, -2)) / math.sqrt(d)
    mask = torch.ones(s, s, dtype=torch.bool).triu(1)
    att = att.masked_fill(mask, float("-inf")).softmax(-1)
    o = (att @ v).transpose(1, 2).reshape(b, s, nh * d)
    return lin(out_name, o)


def rms(x, weight, eps):
    return weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(cfg, w, ids):
    x = w["model.embed_tokens.weight"][ids]
    d = cfg["hidden_size"] // cfg["num_attention_heads"]
    phi = cfg["model_type"] == "phi"
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        if phi:
            rot = int(d * cfg["partial_rotary_factor"])
            rot -= rot % 2
            h = torch.nn.functional.layer_norm(
                x, (cfg["hidden_size"],), w[p + "input_layernorm.weight"],
                w[p + "input_layernorm.bias"], cfg["layer_norm_eps"])
            a = attention(h, w, p + "self_attn.", cfg, rot, "dense")
            m = gelu_new(h @ w[p + "mlp.fc1.weight"].T + w[p + "mlp.fc1.bias"])
            m = m @ w[p + "mlp.fc2.weight"].T + w[p + "mlp.fc2.bias"]
            x = x + a + m
        else:
            h = rms(x, w[p + "input_layernorm.weight"], cfg["rms_norm_eps"])
            x = x + attention(h, w, p + "self_attn.", cfg, d, "o_proj")
            h = rms(x, w[p + "post_attention_layernorm.weight"], cfg["rms_norm_eps"])
            g = h @ w[p + "mlp.gate_proj.weight"].T
            u = h @ w[p + "mlp.up_proj.weight"].T
            x = x + (torch.nn.functional.silu(g) * u) @ w[p + "mlp.down_proj.weight"].T
    if phi:
        x = torch.nn.functional.layer_norm(
            x, (cfg["hidden_size"],), w["model.final_layernorm.weight"],
            w["model.final_layernorm.bias"], cfg["layer_norm_eps"])
        return x @ w["lm_head.weight"].T + w["lm_head.bias"]
    x = rms(x, w["model.norm.weight"], cfg["rms_norm_eps"])
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


def main():
    out, family, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    shards = int(sys.argv[sys.argv.index("--shards") + 1]) if "--shards" in sys.argv else 1
    tied = "--tied" in sys.argv
    torch.manual_seed(seed)
    os.makedirs(out, exist_ok=True)
    V, H, I, L, NH = 67, 32, 48, 2, 4
    if "--vocab" in sys.argv:
        V = int(sys.argv[sys.argv.index("--vocab") + 1])
    if family == "phi":
        cfg = {"model_type": "phi", "vocab_size": V, "hidden_size": H, "intermediate_size": I,
               "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NH,
               "partial_rotary_factor": 0.5, "layer_norm_eps": 1e-5, "rope_theta": 10000.0,
               "hidden_act": "gelu_new", "tie_word_embeddings": False}
    else:
        cfg = {"model_type": family, "vocab_size": V, "hidden_size": H, "intermediate_size": I,
               "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": 2,
               "rms_norm_eps": 1e-6, "rope_theta": 500.0, "hidden_act": "silu",
               "tie_word_embeddings": tied}
    d = H // NH
    nkv = cfg["num_key_value_heads"]
    w = {}

    def rnd(*shape, scale=0.3):
        return torch.randn(*shape) * scale

    w["model.embed_tokens.weight"] = rnd(V, H, scale=1.0)
    qkv_bias = family in ("phi", "qwen2")
    for i in range(L):
        p = "model.layers.%d." % i
        w[p + "self_attn.q_proj.weight"] = rnd(NH * d, H)
        w[p + "self_attn.k_proj.weight"] = rnd(nkv * d, H)
        w[p + "self_attn.v_proj.weight"] = rnd(nkv * d, H)
        if qkv_bias:
            w[p + "self_attn.q_proj.bias"] = rnd(NH * d)
            w[p + "self_attn.k_proj.bias"] = rnd(nkv * d)
            w[p + "self_attn.v_proj.bias"] = rnd(nkv * d)
        if family == "phi":
            w[p + "self_attn.dense.weight"] = rnd(H, NH * d)
            w[p + "self_attn.dense.bias"] = rnd(H)
            w[p + "mlp.fc1.weight"] = rnd(I, H)
            w[p + "mlp.fc1.bias"] = rnd(I)
            w[p + "mlp.fc2.weight"] = rnd(H, I)
            w[p + "mlp.fc2.bias"] = rnd(H)
            w[p + "input_layernorm.weight"] = 1 + rnd(H, scale=0.1)
            w[p + "input_layernorm.bias"] = rnd(H, scale=0.1)
        else:
            w[p + "self_attn.o_proj.weight"] = rnd(H, NH * d)
            w[p + "mlp.gate_proj.weight"] = rnd(I, H)
            w[p + "mlp.up_proj.weight"] = rnd(I, H)
            w[p + "mlp.down_proj.weight"] = rnd(H, I)
            w[p + "input_layernorm.weight"] = 1 + rnd(H, scale=0.1)
            w[p + "post_attention_layernorm.weight"] = 1 + rnd(H, scale=0.1)
    if family == "phi":
        w["model.final_layernorm.weight"] = 1 + rnd(H, scale=0.1)
        w["model.final_layernorm.bias"] = rnd(H, scale=0.1)
        w["lm_head.weight"] = rnd(V, H)
        w["lm_head.bias"] = rnd(V)
    else:
        w["model.norm.weight"] = 1 + rnd(H, scale=0.1)
        if not tied:
            w["lm_head.weight"] = rnd(V, H)
    # HF checkpoints often carry buffers the model ignores.
    w["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.ones(d // 2)

    if "--nan" in sys.argv:  # a broken checkpoint: every logit is NaN
        w["model.norm.weight" if family != "phi" else "model.final_layernorm.weight"][0] = float("nan")
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f)
    names = sorted(w)
    if shards == 1:
        write_safetensors(os.path.join(out, "model.safetensors"), w)
    else:
        weight_map = {}
        for k in range(shards):
            fname = "model-%05d-of-%05d.safetensors" % (k + 1, shards)
            part = {n: w[n] for n in names[k::shards]}
            write_safetensors(os.path.join(out, fname), part)
            weight_map.update({n: fname for n in part})
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f)

    ids = torch.randint(0, V, (2, 9), generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        logits = forward(cfg, w, ids)
    with open(os.path.join(out, "input_ids.json"), "w") as f:
        json.dump(ids.tolist(), f)
    with open(os.path.join(out, "logits.bin"), "wb") as f:
        f.write(logits.contiguous().numpy().astype("float32").tobytes())


if __name__ == "__main__":
    main()
