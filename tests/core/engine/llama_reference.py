"""Independent Llama + LoRA + Arrow forward in plain torch (float64).

Written from the HF LlamaForCausalLM equations, not from the C++ engine:
full-sequence causal attention (no KV cache), Arrow prototypes from
torch.linalg.svd. Used by model_test.cc.

usage: llama_reference.py MODEL_DIR OUT MODE TOP_K TEMPERATURE PARAM_MIX TOKENS [EXPERT.safetensors ...]
  MODE: arrow | uniform; TOKENS: comma-separated ids.
writes float32 little-endian: logits [T, V] then routing [T, L, 7, E].
"""
import json
import struct
import sys

import numpy as np
import torch

PROJS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
         "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def load_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
        tensors[name] = torch.from_numpy(array.astype(np.float64))
    return tensors, header.get("__metadata__", {})


def load_expert(path, num_layers):
    tensors, metadata = load_safetensors(path)
    modules = {}
    for layer in range(num_layers):
        for p, proj in enumerate(PROJS):
            a = [v for k, v in tensors.items() if k.endswith(f"layers.{layer}.{proj}.lora_A.weight")]
            b = [v for k, v in tensors.items() if k.endswith(f"layers.{layer}.{proj}.lora_B.weight")]
            if not a:
                continue
            a, b = a[0], b[0]
            scale = float(metadata["lora_alpha"]) / a.shape[0] if "lora_alpha" in metadata else 1.0
            _, _, vh = torch.linalg.svd(b @ a)
            modules[(layer, p)] = (a, b, scale, vh[0])
    return modules


def main():
    model_dir, out_path, mode, top_k, temperature, param_mix, tokens = sys.argv[1:8]
    top_k, temperature, param_mix = int(top_k), float(temperature), param_mix == "1"
    tokens = [int(t) for t in tokens.split(",")]
    cfg = json.load(open(f"{model_dir}/config.json"))
    w, _ = load_safetensors(f"{model_dir}/model.safetensors")
    L, d = cfg["num_hidden_layers"], cfg["hidden_size"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps, theta = d // nh, cfg["rms_norm_eps"], cfg["rope_theta"]
    experts = [load_expert(p, L) for p in sys.argv[8:]]
    E, T = len(experts), len(tokens)
    routing = torch.zeros(T, L, 7, E, dtype=torch.float64)

    def rms(x, g):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * g

    def linear(layer, p, x, weight):
        y = x @ weight.T
        cands = [e for e in range(E) if (layer, p) in experts[e]]
        if not cands:
            return y
        protos = torch.stack([experts[e][(layer, p)][3] for e in cands])  # [E', in]
        scores = (x @ protos.T).abs()  # [T, E']
        weights = torch.zeros_like(scores)
        if mode == "uniform":
            weights[:] = 1.0 / len(cands)
        else:
            k = min(top_k, len(cands))
            vals, idx = scores.topk(k, dim=-1)
            weights.scatter_(1, idx, torch.softmax(vals / temperature, dim=-1))
        for j, e in enumerate(cands):
            routing[:, layer, p, e] = weights[:, j]
        for t in range(x.shape[0]):
            if param_mix:
                a_mix = sum(weights[t, j] * experts[e][(layer, p)][0] for j, e in enumerate(cands))
                b_mix = sum(weights[t, j] * experts[e][(layer, p)][2] * experts[e][(layer, p)][1]
                            for j, e in enumerate(cands))
                y[t] += b_mix @ (a_mix @ x[t])
            else:
                for j, e in enumerate(cands):
                    a, b, s, _ = experts[e][(layer, p)]
                    y[t] += weights[t, j] * s * (b @ (a @ x[t]))
        return y

    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    cos, sin = torch.cat([freqs, freqs], -1).cos(), torch.cat([freqs, freqs], -1).sin()

    def rope(x):  # [heads, T, hd]
        half = torch.cat([-x[..., hd // 2:], x[..., :hd // 2]], -1)
        return x * cos + half * sin

    x = w["model.embed_tokens.weight"][tokens]
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    for l in range(L):
        pre = f"model.layers.{l}."
        h = rms(x, w[pre + "input_layernorm.weight"])
        q = linear(l, 0, h, w[pre + "self_attn.q_proj.weight"]).view(T, nh, hd).transpose(0, 1)
        k = linear(l, 1, h, w[pre + "self_attn.k_proj.weight"]).view(T, nkv, hd).transpose(0, 1)
        v = linear(l, 2, h, w[pre + "self_attn.v_proj.weight"]).view(T, nkv, hd).transpose(0, 1)
        q, k = rope(q), rope(k)
        k = k.repeat_interleave(nh // nkv, dim=0)
        v = v.repeat_interleave(nh // nkv, dim=0)
        att = torch.softmax(q @ k.transpose(1, 2) / hd ** 0.5 + mask, dim=-1) @ v
        x = x + linear(l, 3, att.transpose(0, 1).reshape(T, nh * hd), w[pre + "self_attn.o_proj.weight"])
        h = rms(x, w[pre + "post_attention_layernorm.weight"])
        g = linear(l, 4, h, w[pre + "mlp.gate_proj.weight"])
        u = linear(l, 5, h, w[pre + "mlp.up_proj.weight"])
        x = x + linear(l, 6, torch.nn.functional.silu(g) * u, w[pre + "mlp.down_proj.weight"])
    head = w.get("lm_head.weight", w["model.embed_tokens.weight"])
    logits = rms(x, w["model.norm.weight"]) @ head.T
    out = np.concatenate([logits.numpy().ravel(), routing.numpy().ravel()]).astype("<f4")
    open(out_path, "wb").write(out.tobytes())


if __name__ == "__main__":
    main()
