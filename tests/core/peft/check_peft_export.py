"""Independent check of an exported PEFT folder, the way PEFT reads it.

usage: check_peft_export.py ADAPTER_DIR EXPECTED.json
EXPECTED maps module name -> {"rank": r, "alpha": a}. For every module the
script resolves rank_pattern / alpha_pattern with PEFT's current rule
(re.match(rf"(.*\\.)?({key})$", module)) and its older rule
(re.match(rf".*\\.{key}$", module)), reads lora_A's shape from the raw
safetensors header, and prints OK or the first mismatch.
"""
import json
import re
import struct
import sys


def resolve(patterns, module, default, legacy):
    for key, value in patterns.items():
        rule = rf".*\.{key}$" if legacy else rf"(.*\.)?({key})$"
        if re.match(rule, module):
            return value
    return default


def main():
    folder, expected_path = sys.argv[1], sys.argv[2]
    config = json.load(open(folder + "/adapter_config.json"))
    expected = json.load(open(expected_path))
    with open(folder + "/adapter_model.safetensors", "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    for field in ["peft_type", "base_model_name_or_path", "r", "lora_alpha", "lora_dropout",
                  "target_modules", "bias", "fan_in_fan_out", "use_rslora", "use_dora",
                  "rank_pattern", "alpha_pattern", "modules_to_save", "task_type"]:
        if field not in config:
            print("missing field", field)
            return
    if config["peft_type"] != "LORA" or config["use_dora"] or config["fan_in_fan_out"]:
        print("bad flags")
        return
    for module, want in expected.items():
        a = header.get("base_model.model." + module + ".lora_A.weight")
        b = header.get("base_model.model." + module + ".lora_B.weight")
        if a is None or b is None:
            print("missing tensors for", module)
            return
        for legacy in (False, True):
            rank = resolve(config["rank_pattern"], module, config["r"], legacy)
            alpha = resolve(config["alpha_pattern"], module, config["lora_alpha"], legacy)
            if rank != want["rank"] or a["shape"][0] != rank or b["shape"][1] != rank:
                print("rank mismatch", module, rank, want["rank"], a["shape"], "legacy" if legacy else "")
                return
            if abs(alpha - want["alpha"]) > 1e-12:
                print("alpha mismatch", module, alpha, want["alpha"], "legacy" if legacy else "")
                return
    print("OK")


main()
