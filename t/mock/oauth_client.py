#!/usr/bin/python3
"""Signs a request as a 7digital partner's client would, with oauthlib.

Prints JSON {"uri": ..., "headers": {...}, "body": ...} for the suites
(t/lib/Gateway.pm), so that what the gateway verifies was signed by an
implementation independent of the module.
"""

import argparse
import json
import time

from oauthlib.oauth1 import Client
from oauthlib.oauth1.rfc5849 import (SIGNATURE_HMAC, SIGNATURE_PLAINTEXT,
                                     SIGNATURE_TYPE_AUTH_HEADER,
                                     SIGNATURE_TYPE_BODY,
                                     SIGNATURE_TYPE_QUERY)

TYPES = {'header': SIGNATURE_TYPE_AUTH_HEADER, 'query': SIGNATURE_TYPE_QUERY,
         'body': SIGNATURE_TYPE_BODY}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--method', default='GET')
    ap.add_argument('--url', required=True)
    ap.add_argument('--key', required=True)
    ap.add_argument('--secret', required=True)
    ap.add_argument('--token')
    ap.add_argument('--token-secret')
    ap.add_argument('--type', choices=sorted(TYPES), default='header')
    ap.add_argument('--body', default=None,
                    help='urlencoded form body')
    ap.add_argument('--age', type=int, default=0,
                    help='seconds to move the timestamp into the past')
    ap.add_argument('--plaintext', action='store_true')
    opts = ap.parse_args()

    client = Client(opts.key, client_secret=opts.secret,
                    resource_owner_key=opts.token,
                    resource_owner_secret=opts.token_secret,
                    signature_type=TYPES[opts.type],
                    signature_method=(SIGNATURE_PLAINTEXT if opts.plaintext
                                      else SIGNATURE_HMAC),
                    timestamp=str(int(time.time()) - opts.age))
    headers = {}
    if opts.body is not None or opts.type == 'body':
        headers['Content-Type'] = 'application/x-www-form-urlencoded'
    uri, headers, body = client.sign(opts.url, http_method=opts.method,
                                     body=opts.body, headers=headers)
    print(json.dumps({'uri': uri, 'headers': headers, 'body': body}))


if __name__ == '__main__':
    main()
