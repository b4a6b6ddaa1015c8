"""safetensors_equal.py A B: exit 0 when two safetensors files hold the same
tensor names with the same bytes (metadata, which may carry times, is not
compared); otherwise print the first differing names and exit 1. Reads the
format directly, without libra's code.

As a module: read_safetensors(path) -> (metadata, {name: raw bytes}).
"""
import json
import struct
import sys


def read_safetensors(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    metadata = header.pop("__metadata__", {})
    return metadata, {k: body[v["data_offsets"][0]:v["data_offsets"][1]] for k, v in header.items()}


def main():
    _, a = read_safetensors(sys.argv[1])
    _, b = read_safetensors(sys.argv[2])
    if a.keys() != b.keys():
        print("FAIL: different tensors:", sorted(set(a) ^ set(b))[:5])
        return 1
    different = [k for k in a if a[k] != b[k]]
    if different:
        print("FAIL: %s and %s differ in %s" % (sys.argv[1], sys.argv[2], different[:3]))
        return 1
    print("PASS: %d tensors equal bit for bit" % len(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
