# Partner keys on Choose Digital locations: the cdaccesskeyid header, the
# errors in Choose Digital's format, and the headers the upstream receives
# (the mock recomputes the date HMAC with Python's hmac and refuses any
# request that carries a partner credential).

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;

plan 'no_plan';
no_shuffle();
Gateway::defaults();
run_tests();

__DATA__

=== TEST 1: service check: the upstream gets its own, correctly signed headers
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://choosedigital;
    }
--- request eval
[
"GET /music",
"GET /__mock/cd/last",
]
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001') . "Accept: application/json\n"

--- response_body_like eval
[
qr/^\{"ping": "pong"\}$/,
qr/\["cdaccesskeyid", "gateway-cd-access-key"\], \["x-cd-date", "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"\], \["authorization", "[A-Za-z0-9+\/]{27}="\]/,
]
--- no_error_log
[error]
[alert]



=== TEST 2: search by a partner without a secret: the query, tenantId included, passes untouched
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://choosedigital;
    }
--- request eval
[
"GET /music/search?term=the%20midnight&country=us&tenantId=shop-7&sort=title:a",
"GET /__mock/cd/last",
]
--- more_headers
cdaccesskeyid: umbrella-key-0004
--- response_body_like eval
[
qr/"searchTerm": "midnight"/,
qr/"query": "term=the%20midnight&country=us&tenantId=shop-7&sort=title:a"/,
]
--- no_error_log
[error]



=== TEST 3: no cdaccesskeyid: 401 in Choose Digital's error format
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://choosedigital;
    }
--- request eval
[
"GET /__mock/cd/reset",
"GET /music/genres",
"GET /__mock/cd/counts",
]
--- error_code eval
[200, 401, 200]
--- response_body eval
[
"ok\n",
qq/{"errors":[{"parameter":"cdaccesskeyid","message":"Required"}]}/,
"{}",
]
--- no_error_log
[error]



=== TEST 4: unknown key
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://choosedigital;
    }
--- request
GET /music/genres
--- more_headers
cdaccesskeyid: nobody
--- error_code: 401
--- response_headers
Content-Type: application/json; charset=utf-8
--- response_body chomp
{"errors":[{"parameter":"cdaccesskeyid","message":"Invalid access key id"}]}
--- no_error_log
[error]



=== TEST 5: disabled partner
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://choosedigital;
    }
--- request
GET /music/genres
--- more_headers
cdaccesskeyid: initech-key-0003
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"cdaccesskeyid","message":"Access key id is disabled"}]}
--- no_error_log
[error]



=== TEST 6: a partner limited to 7digital is refused here with 403
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://choosedigital;
    }
--- request
GET /music/genres
--- more_headers
cdaccesskeyid: soylent-key-0006
--- error_code: 403
--- response_body chomp
{"errors":[{"parameter":"cdaccesskeyid","message":"Access key id may not use this API"}]}
--- no_error_log
[error]



=== TEST 7: two different cdaccesskeyid headers are refused
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://choosedigital;
    }
--- request
GET /music/genres
--- more_headers
cdaccesskeyid: acme-key-0001
cdaccesskeyid: globex-key-0002
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"cdaccesskeyid","message":"Conflicting values"}]}
--- no_error_log
[error]



=== TEST 8: the same header twice with the same value is one key
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://choosedigital;
    }
--- request
GET /music/genres
--- more_headers
cdaccesskeyid: umbrella-key-0004
CDAccessKeyId: umbrella-key-0004
--- response_body_like chomp
"name": "Electronic"
--- no_error_log
[error]



=== TEST 9: the partner id is a variable here too; the real secret is never logged
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        add_header X-Partner $sevendigital_partner;
        proxy_pass http://choosedigital;
    }
--- request
GET /music
--- more_headers
cdaccesskeyid: umbrella-key-0004
--- response_headers
X-Partner: umbrella
--- no_error_log
upstream-cd-secret-key
[error]
