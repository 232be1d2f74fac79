# nginx's own errors (a bad request line, a URI or body too large, a method
# not allowed, an upstream down or too slow, limit_req) routed by
# error_page to a "sevendigital_error" location, and answered in the API's
# own format: 7digital XML, or JSON when Accept asks for it, XML only where
# the endpoint answers XML only; Choose Digital errors[].  Code by code.

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;

plan 'no_plan';
no_shuffle();
no_root_location();

our $Http = <<'EOF_HTTP';
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_audit_log off;
    proxy_next_upstream off;
    limit_req_zone $sevendigital_partner zone=partners:1m rate=1r/m;
    limit_req_status 429;
EOF_HTTP

# every block: the 7digital error location, error_page for every code
our $Errors = <<'EOF_ERRORS';
    error_page 400 403 404 405 413 414 429 500 502 503 504
               /.sevendigital/7digital-error;

    location = /.sevendigital/7digital-error {
        internal;
        sevendigital_error 7digital;
    }

    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        client_max_body_size 1k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }

    location /1.2/down/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_endpoint down/* catalogue;
        proxy_pass http://127.0.0.1:1;
    }

    location /1.2/slow/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_endpoint slow/* catalogue;
        proxy_read_timeout 300ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_BLACKHOLE_PORT;
    }

    location /1.2/limited/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_endpoint limited/* catalogue;
        limit_req zone=partners nodelay;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }

    location /1.2/closed/ {
        deny all;
    }

    location /1.2/broken/ {
        return 500;
    }

    location /1.2/static/ {
        alias $TEST_NGINX_FIXTURES/;
    }
EOF_ERRORS

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value('http_config', $main::Http)
        unless defined $block->{http_config};
    my $config = $block->{config} ? $block->{config}[0] : '';
    $block->set_value('config', $main::Errors . $config);
});

sub xml_error {
    my ($code, $message) = @_;
    return qr{^<\?xml version="1.0" encoding="utf-8"\?><response status="error" version="1.2"><error code="$code"><errorMessage>\Q$message\E</errorMessage></error></response>$};
}

run_tests();

__DATA__

=== TEST 1: 400, bad %-encoding in the path
--- request
GET /1.2/release/%zz?releaseId=1
--- error_code: 400
--- response_headers
Content-Type: application/xml; charset=utf-8
--- response_body_like eval
main::xml_error(1002, 'Bad request')



=== TEST 2: 403, a location that denies
--- request
GET /1.2/closed/x?oauth_consumer_key=acme-key-0001
--- error_code: 403
--- response_body_like eval
main::xml_error(7002, 'Forbidden')



=== TEST 3: 404, in JSON when Accept asks for it
--- request
GET /1.2/static/no-such-file?oauth_consumer_key=acme-key-0001
--- more_headers
Accept: application/json
--- error_code: 404
--- response_headers
Content-Type: application/json; charset=utf-8
--- response_body_like eval
qr/^\{"status":"error","version":"1.2","error":\{"code":2001,"errorMessage":"Resource not found"\}\}$/



=== TEST 4: 405, POST to a static file
--- request
POST /1.2/static/partners.json
x=1
--- error_code: 405
--- response_body_like eval
main::xml_error(1002, 'Method not allowed')



=== TEST 5: 413, a body over client_max_body_size
--- request eval
"POST /1.2/release/details?oauth_consumer_key=acme-key-0001\n" . ('x' x 2048)
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- error_code: 413
--- response_body_like eval
main::xml_error(1003, 'Request body too large')



=== TEST 6: 414, a request line over large_client_header_buffers
--- http_config eval
$main::Http . "    large_client_header_buffers 2 1k;\n"
--- request eval
"GET /1.2/release/details?releaseId=1&q=" . ('x' x 2048)
--- error_code: 414
--- response_body_like eval
main::xml_error(1003, 'Request URI too long')



=== TEST 7: 429 from stock limit_req
--- request eval
[("GET /1.2/limited/x?oauth_consumer_key=acme-key-0001") x 2]
--- error_code eval
[200, 429]
--- response_body_like eval
[qr/./,
 main::xml_error(7001, 'Rate limit exceeded, retry later')]



=== TEST 8: 500
--- request
GET /1.2/broken/x
--- error_code: 500
--- response_body_like eval
main::xml_error(9001, 'Internal error')



=== TEST 9: 502, the upstream refuses connections
--- request
GET /1.2/down/x?oauth_consumer_key=acme-key-0001
--- error_code: 502
--- response_body_like eval
main::xml_error(7001, 'Upstream unavailable')
--- error_log
connect() failed



=== TEST 10: 503, in JSON
--- config
    location /1.2/unavailable/ {
        return 503;
    }
--- request
GET /1.2/unavailable/x
--- more_headers
Accept: application/json
--- error_code: 503
--- response_body_like eval
qr/^\{"status":"error","version":"1.2","error":\{"code":7001,"errorMessage":"Service unavailable, retry later"\}\}$/



=== TEST 11: 504, the upstream never answers
--- request
GET /1.2/slow/x?oauth_consumer_key=acme-key-0001
--- error_code: 504
--- response_body_like eval
main::xml_error(7003, 'Upstream timed out')
--- error_log
upstream timed out



=== TEST 12: deliveritem answers XML only, whatever Accept says
--- config
    location /1.2/user/deliveritem {
        return 502;
    }
--- request
GET /1.2/user/deliveritem?releaseId=1
--- more_headers
Accept: application/json
--- error_code: 502
--- response_headers
Content-Type: application/xml; charset=utf-8
--- response_body_like eval
main::xml_error(7001, 'Upstream unavailable')



=== TEST 13: HEAD: the status and the headers, no body
--- request
HEAD /1.2/broken/x
--- error_code: 500
--- response_headers
Content-Type: application/xml; charset=utf-8
--- response_body



=== TEST 14: the error location reached directly: 404
--- config
    location = /error {
        sevendigital_error 7digital;
    }
--- request
GET /error
--- error_code: 404
--- response_body_like eval
main::xml_error(2001, 'Resource not found')



=== TEST 15: Choose Digital: errors[], from a named location
--- config
    location @cd_error {
        sevendigital_error choosedigital;
    }

    location /music/ {
        error_page 400 403 404 405 413 414 429 500 502 503 504 @cd_error;
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://127.0.0.1:1;
    }
--- request
GET /music/search?term=x&country=us
--- more_headers
cdaccesskeyid: umbrella-key-0004
--- error_code: 502
--- response_headers
Content-Type: application/json; charset=utf-8
--- response_body_like eval
qr/^\{"errors":\[\{"parameter":"request","message":"Upstream unavailable"\}\]\}$/
--- error_log
connect() failed
