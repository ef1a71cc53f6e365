"""Parses a Prometheus text exposition with prometheus_client's own parser and prints what it
read as JSON: {family: {"type": ..., "samples": [[name, labels, value], ...]}}.

Usage: python3 prometheus_interop.py METRICS_FILE
"""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        text = f.read()
    families = {}
    for family in text_string_to_metric_families(text):
        families[family.name] = {
            "type": family.type,
            "samples": [[s.name, s.labels, s.value] for s in family.samples],
        }
    json.dump(families, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
