#!/usr/bin/python3
"""Mock 7digital API v1.2 and Choose Digital upstreams for the test suites.

Each instance plays one API on one loopback port.  It answers with
responses shaped like the real API's (7digital: XML by default, JSON when
the Accept header asks; Choose Digital: JSON), counts what it receives per
path, can be told to fail, and checks every credential it is sent with its
own implementation (oauthlib for OAuth 1.0, Python's hmac for Choose
Digital), independent of the gateway's C code.  A request that carries the
wrong credentials, or any partner's key or secret, is refused the way the
real API refuses it, so a test that expects 200 fails loudly.

Control endpoints (never counted):
  GET  /__mock/ping                      "pong"
  GET  /__mock/counts                    {"<path>": n, ...}
  GET  /__mock/count?path=/1.2/x         n
  GET  /__mock/last                      the last request, as JSON
  GET  /__mock/reset                     forget counts, failures, last
  GET  /__mock/fail?path=P&status=S&delay=D&close=1&times=N
                                         the next N requests to P fail
  GET  /__mock/next_token?token=T&secret=S
                                         the next token oauth/requesttoken
                                         or oauth/accesstoken issues
  GET  /__mock/log                       every request since the last reset:
                                         [{"method", "path", "signing"}]
                                         signing: unsigned, 2-legged,
                                         3-legged (7digital), header or
                                         header+hash (Choose Digital)
  GET  /__mock/sales                     every purchase received since the
                                         last reset, failed ones included:
                                         [{"time", "method", "path", "sale",
                                         "request_id", "status"}]
                                         sale: its transactionId (query or
                                         form); request_id: its X-Request-Id
                                         header; status: what the mock
                                         answered ("closed" for close=1)

With --audit-file, a purchase (its own list, below, not the gateway's) is
refused with 412 unless the gateway's audit trail already holds an intent
record for it with no outcome yet: the proof that a sale is written down
before it leaves.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import socketserver
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape, quoteattr

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', 'fixtures')

# Choose Digital methods with an "authentication" hash, and the fields it
# signs in order (the API specification's resources/*.md)
CD_HASHED = {
    'purchase': ('cdin', 'customerId', 'customerCountryCode', 'priceSold'),
    'update': ('orderId', 'customerId'),
    'cancel': ('orderId', 'customerId'),
    'resetdownload': ('customerId', 'orderId'),
}
CD_HISTORY = ('customerId', 'customerCountryCode')

# purchases by the mock's own reading of the APIs (upstream-apis.md 1.5,
# 2.1, 3), independent of the gateway's endpoint table
PURCHASE_7D = re.compile(
    r'^(user/deliveritem|user/purchase/(item|rrpitem|basket|priceditem)'
    r'|user/purchase/[^/]+/(track|release)/[^/]+'
    r'|basket/(create|additem|removeitem|applyvoucher|addpriceditem'
    r'|completepaypalpurchase)'
    r'|user/payment/card/(add|select|delete)|user/payment/cardregistration)$')
PURCHASE_CD = re.compile(
    r'^((music|movie|tv|ebook|audiobook)/(purchase|update|cancel)'
    r'|music/resetdownload)$')
# answers that name the sale, as 7digital's <purchase id="..."> does
PURCHASE_ID_7D = re.compile(
    r'^(user/deliveritem|user/purchase/(item|rrpitem|basket|priceditem)'
    r'|basket/completepaypalpurchase)$')

OAUTH_PARTNER_PARAMS = ('oauth_signature', 'oauth_nonce', 'oauth_timestamp',
                        'oauth_signature_method', 'oauth_version')


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.counts = {}
        self.failures = {}
        self.last = None
        self.log = []
        self.sales = 0
        self.received = []

    def count(self, path):
        with self.lock:
            self.counts[path] = self.counts.get(path, 0) + 1

    def take_failure(self, path):
        with self.lock:
            rule = self.failures.get(path)
            if not rule:
                return None
            rule['times'] -= 1
            if rule['times'] <= 0:
                del self.failures[path]
            return dict(rule)


class Trail:
    """The gateway's audit trail, read as it grows: each sale reads only
    what was appended since the last one (a trail of thousands of sales is
    not read again per sale).  A file replaced or truncated (its inode,
    size or first bytes differ) is read again from its start."""

    def __init__(self, name):
        self.name = name
        self.lock = threading.Lock()
        self.inode = None
        self.pos = 0
        self.head = b''
        self.open = {}

    def open_intents(self):
        """{request id: path} of the intents without an outcome yet, or
        None when there is no trail."""
        with self.lock:
            try:
                f = open(self.name, 'rb')
            except FileNotFoundError:
                return None
            with f:
                st = os.fstat(f.fileno())
                head = f.read(len(self.head)) if self.head else b''
                if (st.st_ino != self.inode or st.st_size < self.pos
                        or head != self.head):
                    self.inode, self.pos, self.open = st.st_ino, 0, {}
                f.seek(self.pos)
                data = f.read()
                if self.pos == 0:
                    self.head = data[:256]
            # a line still being written is read with the next sale
            end = data.rfind(b'\n') + 1
            self.pos += end
            for line in data[:end].splitlines():
                try:
                    rec = json.loads(line.decode('utf-8', 'replace'))
                except ValueError:
                    continue
                if rec.get('type') == 'intent':
                    self.open[rec.get('id')] = rec.get('path', '').lower()
                elif rec.get('type') == 'outcome':
                    self.open.pop(rec.get('id'), None)
            return dict(self.open)


def to_xml(name, value):
    if isinstance(value, list):
        return ''.join(to_xml(name, v) for v in value)
    if isinstance(value, dict):
        attrs = ''.join(' %s=%s' % (k[1:], quoteattr(str(v)))
                        for k, v in value.items() if k.startswith('@'))
        text = escape(str(value.get('#text', '')))
        body = ''.join(to_xml(k, v) for k, v in value.items()
                       if not k.startswith('@') and k != '#text')
        return '<%s%s>%s%s</%s>' % (name, attrs, text, body, name)
    return '<%s>%s</%s>' % (name, escape(str(value)), name)


def to_json_value(value):
    """7digital's JSON merges XML attributes into plain fields."""
    if isinstance(value, list):
        return [to_json_value(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = 'value' if k == '#text' else k.lstrip('@')
            out[key] = to_json_value(v)
        return out
    return value


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'mock-upstream/1'

    def log_message(self, fmt, *args):
        if self.server.opts.verbose:
            sys.stderr.write('mock %s: %s\n' % (self.server.opts.api,
                                                fmt % args))

    # -- plumbing ---------------------------------------------------------

    sale = None

    def received_sale(self, url, body):
        """A purchase as it arrived, in the list /__mock/sales shows; its
        status is filled in when the mock answers."""
        params = dict(urllib.parse.parse_qsl(url.query))
        params.update(self.form_params(body))
        sale = {'time': time.time(), 'method': self.command,
                'path': url.path, 'sale': params.get('transactionId'),
                'request_id': self.headers.get('X-Request-Id'),
                'status': None}
        st = self.server.state
        with st.lock:
            st.received.append(sale)
        return sale

    def read_body(self):
        n = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(n) if n > 0 else b''

    def send(self, status, body, ctype, extra=None):
        if isinstance(body, str):
            body = body.encode('utf-8')
        if self.sale is not None:
            self.sale['status'] = status
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != 'HEAD':
            self.wfile.write(body)

    def do_GET(self):
        try:
            self.handle_any()
        except (BrokenPipeError, ConnectionResetError):
            # the gateway gave up on a delayed answer, as tests intend
            self.close_connection = True

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

    def handle_any(self):
        self.sale = None
        url = urllib.parse.urlsplit(self.path)
        body = self.read_body()
        if url.path.startswith('/__mock/'):
            return self.control(url)

        st = self.server.state
        st.count(url.path)
        with st.lock:
            st.last = {
                'method': self.command, 'path': url.path, 'query': url.query,
                'headers': [[k, v] for k, v in self.headers.items()],
                'body': body.decode('latin-1'),
                'content_length': self.headers.get('Content-Length'),
            }

        if self.is_purchase(url):
            self.sale = self.received_sale(url, body)
        rule = st.take_failure(url.path)
        if rule:
            if rule.get('delay'):
                time.sleep(float(rule['delay']))
            if rule.get('close'):
                self.close_connection = True
                if self.sale is not None:
                    self.sale['status'] = 'closed'
                self.connection.shutdown(2)
                return
            if rule.get('status'):
                return self.api_error(int(rule['status']), 9001,
                                      'Injected failure')

        problem = self.check_credentials(url, body)
        with st.lock:
            st.log.append({'method': self.command, 'path': url.path,
                           'signing': self.signing_mode(url, body)})
        if problem:
            return self.auth_failure(problem)
        if self.is_purchase(url) and not self.intent_recorded(url):
            return self.api_error(412, 7001, 'No audit intent for this sale')
        return self.answer(url, body)

    def norm_path(self, url):
        path = '/'.join(p for p in url.path.split('/') if p).lower()
        if self.server.opts.api == '7digital' and path.startswith('1.2/'):
            path = path[4:]
        return path

    def is_purchase(self, url):
        rx = PURCHASE_7D if self.server.opts.api == '7digital' else PURCHASE_CD
        return bool(rx.match(self.norm_path(url)))

    def intent_recorded(self, url):
        """An intent for this sale, in the gateway's trail, still open: the
        one of its X-Request-Id when the gateway sends one (bench/chaos
        does), else one for its path."""
        trail = self.server.trail
        if trail is None:
            return True
        open_intents = trail.open_intents()
        if open_intents is None:
            return True
        rid = self.headers.get('X-Request-Id')
        if rid:
            return rid in open_intents
        return self.norm_path(url) in open_intents.values()

    def signing_mode(self, url, body):
        if self.server.opts.api != '7digital':
            q = urllib.parse.parse_qs(url.query)
            q.update(urllib.parse.parse_qs(body.decode('latin-1')))
            return 'header+hash' if 'authentication' in q else 'header'
        params = dict(urllib.parse.parse_qsl(url.query))
        params.update(self.form_params(body))
        auth = self.headers.get('Authorization', '')
        if auth.startswith('OAuth '):
            from oauthlib.oauth1.rfc5849 import utils
            params.update(dict(utils.parse_authorization_header(auth)))
        if 'oauth_signature' not in params:
            return 'unsigned'
        return '3-legged' if params.get('oauth_token') else '2-legged'

    def control(self, url):
        st = self.server.state
        q = dict(urllib.parse.parse_qsl(url.query))
        what = url.path[len('/__mock/'):]
        if what == 'ping':
            return self.send(200, 'pong\n', 'text/plain')
        if what == 'counts':
            with st.lock:
                return self.send(200, json.dumps(st.counts, sort_keys=True),
                                 'application/json')
        if what == 'count':
            with st.lock:
                n = st.counts.get(q.get('path', ''), 0)
            return self.send(200, '%d\n' % n, 'text/plain')
        if what == 'last':
            with st.lock:
                return self.send(200, json.dumps(st.last), 'application/json')
        if what == 'log':
            with st.lock:
                return self.send(200, json.dumps(st.log), 'application/json')
        if what == 'sales':
            with st.lock:
                return self.send(200, json.dumps(st.received),
                                 'application/json')
        if what == 'reset':
            with st.lock:
                st.received = []
                st.log = []
                st.counts.clear()
                st.failures.clear()
                st.last = None
            return self.send(200, 'ok\n', 'text/plain')
        if what == 'next_token':
            with st.lock:
                self.server.next_tokens.append((q['token'], q['secret']))
            return self.send(200, 'ok\n', 'text/plain')
        if what == 'fail':
            rule = {'status': q.get('status'), 'delay': q.get('delay'),
                    'close': q.get('close'), 'times': int(q.get('times', 1))}
            with st.lock:
                st.failures[q['path']] = rule
            return self.send(200, 'ok\n', 'text/plain')
        return self.send(404, 'no such control\n', 'text/plain')

    # -- credentials --------------------------------------------------------

    def leaked_partner_credential(self, url, body):
        blob = (self.path + '\n' + str(self.headers) + '\n'
                + body.decode('latin-1'))
        decoded = urllib.parse.unquote_plus(blob)
        for p in self.server.partners:
            for field in ('key', 'secret'):
                v = p.get(field)
                if v and (v in blob or v in decoded):
                    return 'partner %s %s reached the upstream' % (p['id'],
                                                                   field)
        return None

    def check_credentials(self, url, body):
        leak = self.leaked_partner_credential(url, body)
        if leak:
            return leak
        if self.server.opts.api == '7digital':
            return self.check_7digital(url, body)
        return self.check_choosedigital(url, body)

    def form_params(self, body):
        ctype = self.headers.get('Content-Type', '')
        if ctype.startswith('application/x-www-form-urlencoded'):
            return urllib.parse.parse_qsl(body.decode('utf-8', 'replace'),
                                          keep_blank_values=True)
        return []

    def check_7digital(self, url, body):
        opts = self.server.opts
        params = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        params += self.form_params(body)
        auth = self.headers.get('Authorization')
        header_params = {}
        if auth:
            if not auth.startswith('OAuth '):
                return 'unexpected Authorization scheme'
            from oauthlib.oauth1.rfc5849 import utils
            header_params = dict(utils.parse_authorization_header(auth))
        keys = [v for k, v in params if k == 'oauth_consumer_key']
        if 'oauth_consumer_key' in header_params:
            keys.append(header_params['oauth_consumer_key'])
        if not keys:
            return 'Missing consumer key'
        if any(k != opts.consumer_key for k in keys):
            return 'Invalid consumer key'
        signed = 'oauth_signature' in header_params or any(
            k == 'oauth_signature' for k, v in params)
        if not signed:
            if any(k in OAUTH_PARTNER_PARAMS for k, v in params):
                return 'OAuth parameters without a signature'
            return None
        return self.verify_oauth(url, body)

    def verify_oauth(self, url, body):
        """Checked by oauthlib, not by the gateway's code."""
        from oauthlib.oauth1 import RequestValidator, SignatureOnlyEndpoint
        opts = self.server.opts

        class Validator(RequestValidator):
            enforce_ssl = False
            safe_characters = set(
                'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'
                '0123456789-_./+=~%')
            nonce_length = (8, 64)
            client_key_length = (3, 128)
            access_token_length = (3, 128)
            timestamp_lifetime = 600

            def check_client_key(self, key):
                return True

            def check_access_token(self, token):
                return True

            def check_nonce(self, nonce):
                return True

            def validate_client_key(self, key, request):
                return key == opts.consumer_key

            def get_client_secret(self, key, request):
                return opts.consumer_secret

            def validate_timestamp_and_nonce(self, *a, **kw):
                return True

            def get_access_token_secret(self, key, token, request):
                return self.server_tokens.get(token, '')

            @property
            def dummy_client(self):
                return 'dummy'

        v = Validator()
        v.server_tokens = self.server.tokens
        endpoint = SignatureOnlyEndpoint(v)
        uri = 'http://%s%s' % (opts.signed_host or self.headers['Host'],
                               self.path)
        headers = {k: v for k, v in self.headers.items()}
        ok, _ = endpoint.validate_request(uri, self.command, body or None,
                                          headers)
        return None if ok else 'Invalid signature'

    def check_choosedigital(self, url, body):
        opts = self.server.opts
        key = self.headers.get('cdaccesskeyid')
        date = self.headers.get('x-cd-date')
        sig = self.headers.get('authorization')
        if not key or not date or not sig:
            return 'Required'
        if key != opts.consumer_key:
            return 'Invalid cdaccesskeyid'
        try:
            when = datetime.datetime.strptime(date[:19], '%Y-%m-%dT%H:%M:%S')
        except ValueError:
            return 'Invalid x-cd-date'
        now = datetime.datetime.utcnow()
        if abs((now - when).total_seconds()) > 15 * 60:
            return 'validation.invalid.outofrange'
        want = base64.b64encode(hmac.new(opts.consumer_secret.encode(),
                                         date.encode(),
                                         hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(want, sig):
            return 'Invalid authorization'
        return self.check_cd_authentication(url, body)

    def check_cd_authentication(self, url, body):
        opts = self.server.opts
        path = url.path.rstrip('/')
        parts = path.strip('/').split('/')
        if parts[:1] == ['history'] and parts[1:] in (['all'], ['count']):
            fields = CD_HISTORY
        elif len(parts) == 2 and parts[1] in CD_HASHED:
            fields = CD_HASHED[parts[1]]
        else:
            return None
        params = urllib.parse.parse_qsl(url.query, keep_blank_values=True)
        params += self.form_params(body)
        values = {}
        for k, v in params:
            values.setdefault(k, []).append(v)
        for f in fields + ('authentication',):
            if f not in values:
                return 'Required %s' % f
            if len(values[f]) != 1:
                return 'Duplicate %s' % f
        data = ''.join(values[f][0] for f in fields)
        want = base64.b64encode(hmac.new(opts.consumer_secret.encode(),
                                         data.encode(),
                                         hashlib.sha1).digest()).decode()
        if not hmac.compare_digest(want, values['authentication'][0]):
            return 'Invalid authentication'
        return None

    def auth_failure(self, problem):
        if self.server.opts.api == '7digital':
            return self.send(401, 'OAuth authentication error: ' + problem,
                             'text/plain')
        return self.send(401, json.dumps({'errors': [
            {'parameter': 'authorization', 'message': problem}]}),
            'application/json')

    # -- answers ------------------------------------------------------------

    def api_error(self, status, code, message):
        if self.server.opts.api == '7digital':
            if self.wants_json():
                return self.send(status, json.dumps({
                    'status': 'error', 'version': '1.2',
                    'error': {'code': code, 'errorMessage': message}}),
                    'application/json; charset=utf-8')
            return self.send(status, '<?xml version="1.0" encoding="utf-8"?>'
                             '<response status="error" version="1.2">'
                             '<error code="%d"><errorMessage>%s</errorMessage>'
                             '</error></response>' % (code, escape(message)),
                             'application/xml; charset=utf-8')
        return self.send(status, json.dumps({'errors': [
            {'parameter': 'request', 'message': message}]}),
            'application/json')

    def wants_json(self):
        return 'json' in self.headers.get('Accept', '').lower()

    def test_answer(self, what, url):
        """Answers for cache tests: test/big?size=N (N bytes of XML),
        test/nostore, test/private, test/cookie, test/maxage?s=N,
        test/validators (Last-Modified, ETag, ...), test/nolength[?size=N] (no Content-Length: the body ends with the
        connection)."""
        q = dict(urllib.parse.parse_qsl(url.query))
        extra = {}
        body = '<response status="ok" version="1.2"><test/></response>'
        if what == 'big' or (what == 'nolength' and 'size' in q):
            size = int(q.get('size', '1024'))
            head = '<response status="ok" version="1.2"><pad>'
            tail = '</pad></response>'
            pad = ''.join(chr(ord('a') + i % 26)
                          for i in range(size - len(head) - len(tail)))
            body = head + pad + tail
        elif what == 'nostore':
            extra['Cache-Control'] = 'no-store'
        elif what == 'private':
            extra['Cache-Control'] = 'private, max-age=60'
        elif what == 'cookie':
            extra['Set-Cookie'] = 'session=abc; Path=/'
        elif what == 'maxage':
            extra['Cache-Control'] = 'public, max-age=%s' % q.get('s', '0')
        elif what == 'validators':
            extra['Last-Modified'] = 'Mon, 23 Nov 2026 10:15:30 GMT'
            extra['ETag'] = '"v-42"'
            extra['Content-Language'] = 'en-GB'
            extra['Cache-Control'] = 'public, max-age=600'
            extra['X-Mock-Trace'] = 'not for the cache'
        if what == 'nolength':
            self.send_response(200)
            self.send_header('Content-Type', 'application/xml; charset=utf-8')
            self.send_header('Connection', 'close')
            self.end_headers()
            self.close_connection = True
            if self.command != 'HEAD':
                self.wfile.write(body.encode('utf-8'))
            return None
        return self.send(200, body, 'application/xml; charset=utf-8', extra)

    def issue_token(self, kind):
        """oauth/requesttoken answers form-encoded (node-oauth parses it
        so); oauth/accesstoken answers XML, the other form 7digital uses."""
        st = self.server.state
        with st.lock:
            if self.server.next_tokens:
                token, secret = self.server.next_tokens.pop(0)
            else:
                n = len(self.server.tokens) + 1
                token, secret = '%s-token-%d' % (kind, n), 'secret-%d' % n
            self.server.tokens[token] = secret
        if kind == 'request':
            return self.send(200, 'oauth_token=%s&oauth_token_secret=%s'
                             '&oauth_callback_confirmed=true'
                             % (urllib.parse.quote(token),
                                urllib.parse.quote(secret)),
                             'application/x-www-form-urlencoded')
        return self.send(200, '<?xml version="1.0" encoding="utf-8"?>'
                         '<response status="ok" version="1.2">'
                         '<oauth_access_token><oauth_token>%s</oauth_token>'
                         '<oauth_token_secret>%s</oauth_token_secret>'
                         '</oauth_access_token></response>'
                         % (escape(token), escape(secret)),
                         'application/xml; charset=utf-8')

    def answer(self, url, body):
        path = url.path.strip('/')
        if self.server.opts.api == '7digital':
            if path.startswith('1.2/'):
                path = path[4:]
            if path.startswith('test/'):
                return self.test_answer(path[5:], url)
            if path == 'oauth/requesttoken':
                return self.issue_token('request')
            if path == 'oauth/accesstoken':
                return self.issue_token('access')
            payload = self.server.fixtures.get(path)
            if PURCHASE_ID_7D.match(self.norm_path(url)):
                with self.server.state.lock:
                    self.server.state.sales += 1
                    n = self.server.state.sales
                payload = {'purchase': {'@id': 'P-%d' % n,
                                        '@purchaseDate': '2026-11-30'}}
            if payload is None:
                payload = {'echo': {'@path': '/' + path}}
            name, value = next(iter(payload.items()))
            extra = {'X-Mock-Path': url.path}
            if self.wants_json():
                doc = {'status': 'ok', 'version': '1.2',
                       name: to_json_value(value)}
                return self.send(200, json.dumps(doc, ensure_ascii=False),
                                 'application/json; charset=utf-8', extra)
            xml = ('<?xml version="1.0" encoding="utf-8"?>'
                   '<response status="ok" version="1.2">%s</response>'
                   % to_xml(name, value))
            return self.send(200, xml, 'application/xml; charset=utf-8',
                             extra)
        payload = self.server.fixtures.get(path, {'path': '/' + path})
        parts = path.split('/')
        if len(parts) == 5 and parts[1] == 'download':
            ok = len(parts[3]) == 64 and all(c in '0123456789abcdef'
                                              for c in parts[3])
            if not ok:
                return self.api_error(400, 0, 'Invalid hashedCustomerId')
            payload = {'url': 'https://example.invalid/dl/%s' % parts[2],
                       'hashedCustomerId': parts[3]}
        return self.send(200, json.dumps(payload), 'application/json',
                         {'X-Mock-Path': url.path})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--api', choices=('7digital', 'choosedigital'),
                    required=True)
    ap.add_argument('--port', type=int, required=True)
    ap.add_argument('--consumer-key', required=True)
    ap.add_argument('--consumer-secret-file', required=True)
    ap.add_argument('--partners', required=True)
    ap.add_argument('--signed-host', default=None,
                    help='host[:port] the gateway signs for')
    ap.add_argument('--audit-file', default=None,
                    help="the gateway's audit trail, checked on purchases")
    ap.add_argument('--verbose', action='store_true')
    opts = ap.parse_args()
    with open(opts.consumer_secret_file) as f:
        opts.consumer_secret = f.read().strip()

    # bursts of a few hundred connections (t/021) are queued, not dropped
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(('127.0.0.1', opts.port), Handler)
    server.daemon_threads = True
    server.opts = opts
    server.state = State()
    server.tokens = {}
    server.next_tokens = []
    server.trail = Trail(opts.audit_file) if opts.audit_file else None
    with open(opts.partners) as f:
        server.partners = json.load(f)['partners']
    name = '7digital.json' if opts.api == '7digital' else 'choosedigital.json'
    with open(os.path.join(FIXTURES, name)) as f:
        server.fixtures = json.load(f)
    server.serve_forever()


if __name__ == '__main__':
    main()
