#!/usr/bin/python3
# bench/steps.py DUMP N - a re-signed pass-through's instructions per
# request by step, from a callgrind dump of bench/profile.sh: the inclusive
# cost of the module's function for each step, divided by the requests.
import re
import subprocess
import sys

dump, n = sys.argv[1], int(sys.argv[2])
out = subprocess.run(['callgrind_annotate', '--auto=no', '--threshold=100',
                      '--inclusive=yes', dump],
                     capture_output=True, text=True, check=True).stdout
cost = {}
for line in out.splitlines():
    m = re.match(r'^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+\S*:(ngx_http_7digital_\w+)',
                 line)
    if m:
        name = m.group(2)[len('ngx_http_7digital_'):]
        cost[name] = max(cost.get(name, 0), int(m.group(1).replace(',', '')))


def c(*names):
    return sum(cost.get(x, 0) for x in names)


# one-shot HMAC before #14, a key made ready after
sign = c('oauth_sign') or c('hmac_sha1_base64') or c('hmac_base64')
forward = c('7d_forward', 'cd_forward')
identify = c('7d_identify', 'cd_identify')
steps = [
    ('partner lookup', c('registry_check')),
    ('HMAC-SHA1 signature', sign),
    ('endpoint table', c('route')),
    ('base string', c('oauth_base_string', 'oauth_base_uri')),
    ('nonce', c('nonce')),
    ('Authorization header', c('oauth_header')),
]
steps.append(('the rest of forwarding',
              forward - sum(v for k, v in steps if k != 'partner lookup'
                            and k != 'endpoint table')))
steps += [
    ('parsing the query and headers', c('read_input')),
    ('credentials hidden (post-read)', c('hide_credentials')),
    ('the rest of the access handler',
     c('access_handler') - forward - c('route') - c('read_input')
     - c('registry_check')),
]
for name, v in steps:
    print('%-34s %8.0f' % (name, v / n))
print('%-34s %8.0f' % ('the module',
                       (c('access_handler') + c('hide_credentials')) / n))
