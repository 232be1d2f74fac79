#!/usr/bin/python3
"""Signs a request as a 7digital partner's client would, with oauthlib.

Prints JSON {"uri": ..., "headers": {...}, "body": ...} for the suites
(t/lib/Gateway.pm), so that what the gateway verifies was signed by an
implementation independent of the module.
"""

import argparse
import json
import sys
import time

from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import (SIGNATURE_HMAC, SIGNATURE_PLAINTEXT,
                                     SIGNATURE_TYPE_AUTH_HEADER,
                                     SIGNATURE_TYPE_BODY,
                                     SIGNATURE_TYPE_QUERY)

TYPES = {'header': SIGNATURE_TYPE_AUTH_HEADER, 'query': SIGNATURE_TYPE_QUERY,
         'body': SIGNATURE_TYPE_BODY}


def sign(o):
    client = Client(o['key'], client_secret=o['secret'],
                    resource_owner_key=o.get('token'),
                    resource_owner_secret=o.get('token_secret'),
                    signature_type=TYPES[o.get('type') or 'header'],
                    signature_method=(SIGNATURE_PLAINTEXT if o.get('plaintext')
                                      else SIGNATURE_HMAC),
                    timestamp=str(int(time.time()) - (o.get('age') or 0)))
    headers = {}
    if o.get('body') is not None or o.get('type') == 'body':
        headers['Content-Type'] = 'application/x-www-form-urlencoded'
    uri, headers, body = client.sign(o['url'], http_method=o.get('method')
                                     or 'GET', body=o.get('body'),
                                     headers=headers)
    return {'uri': uri, 'headers': headers, 'body': body}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--batch', action='store_true',
                    help='sign a JSON list of requests read from stdin')
    ap.add_argument('--method', default='GET')
    ap.add_argument('--url')
    ap.add_argument('--key')
    ap.add_argument('--secret')
    ap.add_argument('--token')
    ap.add_argument('--token-secret')
    ap.add_argument('--type', choices=sorted(TYPES), default='header')
    ap.add_argument('--body', default=None,
                    help='urlencoded form body')
    ap.add_argument('--age', type=int, default=0,
                    help='seconds to move the timestamp into the past')
    ap.add_argument('--plaintext', action='store_true')
    opts = ap.parse_args()

    if opts.batch:
        print(json.dumps([sign(o) for o in json.load(sys.stdin)]))
        return

    print(json.dumps(sign(vars(opts))))


if __name__ == '__main__':
    main()
