#!/usr/bin/env python3
"""Decodes Sparkplug B payloads with pysparkplug (PyPI), not with rigd's generated code: the independent reader of
the payloads rigd writes.

    sparkplug_decode.py TYPE FILE...     TYPE: NBIRTH, DBIRTH, NDATA, DDATA, NDEATH, DDEATH

Prints one JSON object per file: {"seq": N or null, "timestamp": ms, "metrics": [{name, alias, datatype, value,
is_historical, is_null, timestamp}]}. Exits 2 with a message when pysparkplug is missing or a payload does not decode.
"""
import json
import sys

try:
    import pysparkplug as spb
except ImportError:
    print("sparkplug_decode: pysparkplug is missing: python3 -m pip install pysparkplug", file=sys.stderr)
    sys.exit(2)

TYPES = {"NBIRTH": spb.NBirth, "DBIRTH": spb.DBirth, "NDATA": spb.NData, "DDATA": spb.DData,
         "NDEATH": spb.NDeath, "DDEATH": spb.DDeath}


def plain(value):
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, bytes):
        return value.hex()
    return value


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in TYPES:
        print(__doc__, file=sys.stderr)
        sys.exit(64)
    kind = TYPES[sys.argv[1]]
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            raw = f.read()
        try:
            payload = kind.decode(raw)
        except Exception as error:  # noqa: BLE001 (any decoding failure is the finding)
            print(f"sparkplug_decode: {path}: {type(error).__name__}: {error}", file=sys.stderr)
            sys.exit(2)
        out = {"seq": getattr(payload, "seq", None), "timestamp": getattr(payload, "timestamp", None)}
        if hasattr(payload, "bd_seq_metric"):
            out["bdSeq"] = payload.bd_seq_metric.value
        metrics = getattr(payload, "metrics", ())
        out["metrics"] = [dict(name=m.name, alias=m.alias, datatype=m.datatype.name, value=plain(m.value),
                               is_historical=m.is_historical, is_null=m.is_null, timestamp=m.timestamp)
                          for m in metrics]
        print(json.dumps(out))


if __name__ == "__main__":
    main()
