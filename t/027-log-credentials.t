# Partner keys travel in the query string: nginx's $request and the
# "request:" of error log lines lose every credential before anything is
# logged, and $sevendigital_request / $sevendigital_args are the request
# line and the query without them, for any log_format.

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;

plan 'no_plan';
no_shuffle();
Gateway::defaults();

run_tests();

__DATA__

=== TEST 1: the variables, and $request, without the key, the token, the signature
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        add_header X-Request $request always;
        add_header X-Log-Request $sevendigital_request always;
        add_header X-Log-Args $sevendigital_args always;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request
GET /1.2/release/details?oauth_consumer_key=acme-key-0001&releaseId=1&oauth_signature=c2lnbmF0dXJl&oauth_token=tok-1&country=GB
--- error_code: 401
--- response_headers
X-Request: GET /1.2/release/details?releaseId=1&country=GB HTTP/1.1
X-Log-Request: GET /1.2/release/details?releaseId=1&country=GB HTTP/1.1
X-Log-Args: releaseId=1&country=GB
--- no_error_log eval
# nginx's own debug lines show the request as it came (docs/partners.md)
[qr/^(?!.*\[debug\]).*acme-key-0001/, qr/^(?!.*\[debug\]).*c2lnbmF0dXJl/,
 qr/^(?!.*\[debug\]).*tok-1/]



=== TEST 2: a refusal logged at info: its request line has no key
--- config
    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request
GET /1.2/release/details?oauth_consumer_key=no-such-key-0009&releaseId=1
--- error_code: 401
--- error_log
sevendigital: request refused: Invalid consumer key
request: "GET /1.2/release/details?releaseId=1 HTTP/1.1"
--- no_error_log eval
[qr/^(?!.*\[debug\]).*no-such-key-0009/]



=== TEST 3: only the key: no "?" left; in locations without the gateway too
--- config
    location /plain/ {
        sevendigital_gateway off;
        add_header X-Request $request always;
        return 204;
    }
--- request
GET /plain/x?oauth_consumer_key=acme-key-0001
--- error_code: 204
--- response_headers
X-Request: GET /plain/x HTTP/1.1



=== TEST 4: sevendigital_log_credentials on: $request as it came, the variables still without
--- http_config
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_log_credentials on;
--- config
    location /plain/ {
        add_header X-Request $request always;
        add_header X-Log-Request $sevendigital_request always;
        return 204;
    }
--- request
GET /plain/x?oauth_consumer_key=acme-key-0001&a=1
--- error_code: 204
--- response_headers
X-Request: GET /plain/x?oauth_consumer_key=acme-key-0001&a=1 HTTP/1.1
X-Log-Request: GET /plain/x?a=1 HTTP/1.1
