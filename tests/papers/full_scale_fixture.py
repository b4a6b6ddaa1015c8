"""Writes what a full-scale paper run is given, in miniature, without any of
libra's code: a Hugging Face checkpoint folder (tests/nn/reference_forward.py)
with a GPT-2 style byte-level BPE tokenizer.json, and a folder of Flan-style
JSONL that is not the synthetic suite (task names of its own, tasks spread
over two files, no "split" fields, a suite.json that only names the held-out
task).

usage: full_scale_fixture.py OUT_DIR FAMILY
Writes OUT_DIR/base/{config.json, model.safetensors, tokenizer.json} and
OUT_DIR/data/{suite.json, part1.jsonl, more/part2.jsonl}.
"""
import json
import os
import random
import subprocess
import sys

MERGES = [("Ġ", "t"), ("h", "e"), ("e", "r"), ("Ġ", "a"), ("o", "n"), ("i", "n")]


def bytes_to_unicode():
    # GPT-2's published table: printable bytes map to themselves, the rest to 256+.
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, n = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + n)
            n += 1
    return table


def tokenizer_json():
    vocab = {s: b for b, s in bytes_to_unicode().items()}
    for rank, (left, right) in enumerate(MERGES):
        vocab[left + right] = 256 + rank
    byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                  "use_regex": True}
    return {"version": "1.0", "added_tokens": [], "normalizer": None,
            "pre_tokenizer": byte_level, "post_processor": None, "decoder": byte_level,
            "model": {"type": "BPE", "dropout": None, "unk_token": None,
                      "continuing_subword_prefix": "", "end_of_word_suffix": "",
                      "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
                      "merges": [l + " " + r for l, r in MERGES]}}


WORDS = ["cat", "dog", "sun", "tree", "rain", "star", "fish", "bird", "moon", "leaf"]


def example(task, rng):
    words = rng.sample(WORDS, rng.randint(2, 4))
    text = " ".join(words)
    if task == "word_reverse":
        return "Reverse the words: " + text, " ".join(reversed(words))
    if task == "word_upper":
        return "Uppercase: " + text, text.upper()
    if task == "first_word":
        return "First word of: " + text, words[0]
    return "Last word of: " + text, words[-1]  # last_word, held out


def main():
    out, family = sys.argv[1], sys.argv[2]
    vocab_size = 256 + len(MERGES)
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([sys.executable, os.path.join(here, "..", "nn", "reference_forward.py"),
                    os.path.join(out, "base"), family, "3", "--vocab", str(vocab_size)],
                   check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "base", "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(), f)

    data = os.path.join(out, "data")
    os.makedirs(os.path.join(data, "more"), exist_ok=True)
    rng = random.Random(5)
    files = {"part1.jsonl": ["word_reverse", "last_word"],
             "more/part2.jsonl": ["word_upper", "first_word"]}
    for name, tasks in files.items():
        with open(os.path.join(data, name), "w") as f:
            for i in range(240):
                task = tasks[i % len(tasks)]
                source, target = example(task, rng)
                f.write(json.dumps({"source": source, "target": target, "task_name": task}) + "\n")
    with open(os.path.join(data, "suite.json"), "w") as f:
        json.dump({"held_out": ["last_word"]}, f)


if __name__ == "__main__":
    main()
