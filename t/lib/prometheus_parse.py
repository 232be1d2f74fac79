#!/usr/bin/python3
"""Parses a Prometheus text exposition read on stdin with the parser of
the Prometheus Python client (Debian's python3-prometheus-client), so that
t/032-metrics.t reads what the gateway shows as Prometheus would, not with
a parser of its own.  Prints JSON:

    {"types": {family: type}, "help": {family: text},
     "samples": {"name{label=value,...}": value}}

with the labels sorted by name.  Exits 1, saying why, when the text does
not parse or names a sample twice."""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main():
    text = sys.stdin.read()
    out = {'types': {}, 'help': {}, 'samples': {}}
    try:
        for family in text_string_to_metric_families(text):
            out['types'][family.name] = family.type
            out['help'][family.name] = family.documentation
            for s in family.samples:
                key = s.name + '{' + ','.join(
                    '%s=%s' % (k, s.labels[k]) for k in sorted(s.labels)) + '}'
                if key in out['samples']:
                    raise ValueError('sample %s twice' % key)
                out['samples'][key] = s.value
    except ValueError as e:
        print('not the exposition format: %s' % e, file=sys.stderr)
        return 1
    json.dump(out, sys.stdout)
    return 0


if __name__ == '__main__':
    sys.exit(main())
