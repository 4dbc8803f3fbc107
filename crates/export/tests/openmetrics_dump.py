#!/usr/bin/env python3
"""Parse OpenMetrics text from stdin with prometheus_client's OpenMetrics parser
(an implementation independent of ours) and print what it read as JSON:

    [{"name", "type", "help", "unit",
      "samples": [{"name", "labels": [[name, value], ...], "value": {"int"|"float": text}}]}]

Label pairs keep the order of the text; floats are printed with repr(), so no
precision is lost. The parser rejects what it finds invalid (the script then
exits non-zero with its message). On top of that, `le` and `quantile` label
values must be in the canonical form the spec asks for, which prometheus_client
renders with floatToGoString (checked for positive values, the ones it renders
like Go).

Used by tests/openmetrics_python.rs.
"""
import json
import math
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString


def number(v):
    if isinstance(v, int):
        return {"int": str(v)}
    if math.isnan(v):
        return {"float": "NaN"}
    if math.isinf(v):
        return {"float": "+Inf" if v > 0 else "-Inf"}
    return {"float": repr(v)}


def main():
    # Bytes, decoded strictly: no newline translation, invalid UTF-8 is an error.
    text = sys.stdin.buffer.read().decode("utf-8", errors="strict")
    families = []
    for fam in text_string_to_metric_families(text):
        samples = []
        for s in fam.samples:
            special = None
            if fam.type == "histogram" and s.name == fam.name + "_bucket":
                special = "le"
            elif fam.type == "summary" and s.name == fam.name:
                special = "quantile"
            if special is not None:
                v = s.labels[special]
                f = float(v)
                if f > 0 and v != floatToGoString(f):
                    raise ValueError(f"{special}={v!r} is not canonical ({floatToGoString(f)!r})")
            if s.timestamp is not None or s.exemplar is not None:
                raise ValueError(f"unexpected timestamp or exemplar in {s}")
            samples.append({
                "name": s.name,
                "labels": [[k, v] for k, v in s.labels.items()],
                "value": number(s.value),
            })
        families.append({
            "name": fam.name,
            "type": fam.type,
            "help": fam.documentation,
            "unit": fam.unit,
            "samples": samples,
        })
    json.dump(families, sys.stdout)


if __name__ == "__main__":
    main()
