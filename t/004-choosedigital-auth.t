# Choose Digital authentication: the date HMAC a partner signs, the
# "authentication" hash of purchases, order changes, download resets and
# history, and their upstream values.  Partner-side values come from
# t/lib/Gateway.pm (Perl's Digest::SHA); the mock upstream recomputes the
# upstream values with Python's hmac and refuses a wrong one.

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;

plan 'no_plan';
no_shuffle();
Gateway::defaults();

add_block_preprocessor(sub {
    my $block = shift;
    return if Gateway::same_nginx($block);
    return if defined $block->{config}
              && $block->{config}[0] =~ /sevendigital_gateway/;
    my $config = $block->{config} ? $block->{config}[0] : '';
    $block->set_value('config', <<'CONF' . $config);
    location ~ ^/(music|movie|tv|ebook|audiobook|history)(/|$) {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://choosedigital;
    }
CONF
});

run_tests();

__DATA__

=== TEST 1: a signed service check, date with "Z"
--- request
GET /music
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001', 'Z')
--- response_body chomp
{"ping": "pong"}
--- no_error_log
[error]
[alert]



=== TEST 2: date without a zone
--- request
GET /movie
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001', 'plain')
--- response_body chomp
{"ping": "pong"}
--- no_error_log
[error]



=== TEST 3: the PHP example's date, with Swatch beats and an offset
--- request
GET /tv
--- more_headers eval
Gateway::cd_headers('globex-key-0002', 'globex-secret-0002', 'php')
--- response_body chomp
{"ping": "pong"}
--- no_error_log
[error]



=== TEST 4: signed with the wrong secret
--- request eval
["GET /__mock/cd/reset", "GET /music"]
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'globex-secret-0002')
--- error_code eval
[200, 401]
--- response_body eval
["ok\n", qq/{"errors":[{"parameter":"authorization","message":"Invalid"}]}/]
--- no_error_log
[error]



=== TEST 5: ... nothing of it reached the upstream, and the refusal is logged
--- same_nginx
--- request
GET /__mock/cd/counts
--- response_body: {}
--- error_log
sevendigital: request refused: Invalid
--- no_error_log
[error]



=== TEST 6: a date 20 minutes old is out of range
--- request
GET /music
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001', 'Z', -1200)
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"x-cd-date","message":"validation.invalid.outofrange"}]}
--- no_error_log
[error]



=== TEST 7: a date 20 minutes ahead is out of range too
--- request
GET /music
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001', 'Z', 1200)
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"x-cd-date","message":"validation.invalid.outofrange"}]}
--- no_error_log
[error]



=== TEST 8: sevendigital_signature_window narrows the window
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        sevendigital_signature_window 60s;
        proxy_pass http://choosedigital;
    }
--- request
GET /music
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001', 'Z', -300)
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"x-cd-date","message":"validation.invalid.outofrange"}]}
--- no_error_log
[error]



=== TEST 9: a partner with a secret must send the date
--- request
GET /music
--- more_headers
cdaccesskeyid: acme-key-0001
authorization: AAAAAAAAAAAAAAAAAAAAAAAAAAA=
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"x-cd-date","message":"Required"}]}
--- no_error_log
[error]



=== TEST 10: ... and the signature
--- request eval
"GET /music"
--- more_headers eval
"cdaccesskeyid: acme-key-0001\nx-cd-date: " . Gateway::cd_date() . "\n"
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"authorization","message":"Required"}]}
--- no_error_log
[error]



=== TEST 11: an unreadable date is bad input
--- request
GET /music
--- more_headers eval
"cdaccesskeyid: acme-key-0001\nx-cd-date: yesterday\nauthorization: "
. Gateway::hmac_b64('acme-secret-0001', 'yesterday') . "\n"
--- error_code: 400
--- response_body chomp
{"errors":[{"parameter":"x-cd-date","message":"Invalid date"}]}
--- no_error_log
[error]



=== TEST 12: a signature that is not Base64 at all
--- request eval
"GET /music"
--- more_headers eval
"cdaccesskeyid: acme-key-0001\nx-cd-date: " . Gateway::cd_date() . "\nauthorization: %%%not-base64%%%\n"
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"authorization","message":"Invalid"}]}
--- no_error_log
[error]



=== TEST 13: two x-cd-date headers are ambiguous
--- request eval
"GET /music"
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001') . "x-cd-date: " . Gateway::cd_date('plain') . "\n"
--- error_code: 400
--- response_body chomp
{"errors":[{"parameter":"x-cd-date","message":"Conflicting values"}]}
--- no_error_log
[error]



=== TEST 14: a purchase (form body): verified, and re-signed for the upstream
--- request eval
[
"POST /music/purchase\n"
. "cdin=CD0001&priceSold=1099&taxAmount=0&currencyType=points&customerId=cust-42"
. "&customerPostalCode=10001&customerCountryCode=us&tenantId=shop-7&authentication="
. Gateway::cd_auth('acme-secret-0001', 'CD0001', 'cust-42', 'us', '1099'),
"GET /__mock/cd/last",
]
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
. "Content-Type: application/x-www-form-urlencoded\n"
--- response_body_like eval
[
qr/"orderId": "ORD-1"/,
qr/"body": "cdin=CD0001&priceSold=1099&taxAmount=0&currencyType=points&customerId=cust-42&customerPostalCode=10001&customerCountryCode=us&tenantId=shop-7&authentication=\Q${\ Gateway::cd_auth('upstream-cd-secret-key', 'CD0001', 'cust-42', 'us', '1099')}\E"/,
]
--- no_error_log
[error]



=== TEST 15: a purchase whose price was changed after signing
--- request eval
"POST /music/purchase\n"
. "cdin=CD0001&priceSold=1&customerId=cust-42&customerCountryCode=us&authentication="
. Gateway::cd_auth('acme-secret-0001', 'CD0001', 'cust-42', 'us', '1099')
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
. "Content-Type: application/x-www-form-urlencoded\n"
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"authentication","message":"Invalid"}]}
--- no_error_log
[error]



=== TEST 16: a purchase without customerCountryCode names the parameter
--- request eval
"POST /movie/purchase\n"
. "cdin=MV0001&priceSold=399&customerId=cust-42&authentication=abc"
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
. "Content-Type: application/x-www-form-urlencoded\n"
--- error_code: 400
--- response_body chomp
{"errors":[{"parameter":"customerCountryCode","message":"Required"}]}
--- no_error_log
[error]



=== TEST 17: a purchase without the authentication parameter
--- request eval
"POST /tv/purchase\n"
. "cdin=TV0001&priceSold=199&customerId=cust-42&customerCountryCode=ca"
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
. "Content-Type: application/x-www-form-urlencoded\n"
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"authentication","message":"Required"}]}
--- no_error_log
[error]



=== TEST 18: a field sent twice with different values
--- request eval
"POST /ebook/purchase?customerId=cust-99\n"
. "cdin=EB0001&priceSold=599&customerId=cust-42&customerCountryCode=us&authentication="
. Gateway::cd_auth('acme-secret-0001', 'EB0001', 'cust-42', 'us', '599')
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
. "Content-Type: application/x-www-form-urlencoded\n"
--- error_code: 400
--- response_body chomp
{"errors":[{"parameter":"customerId","message":"Conflicting values"}]}
--- no_error_log
[error]



=== TEST 19: an authentication value that is not Base64
--- request eval
"POST /audiobook/purchase\n"
. "cdin=AB0001&priceSold=899&customerId=cust-42&customerCountryCode=us&authentication=%25%25%25"
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
. "Content-Type: application/x-www-form-urlencoded\n"
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"authentication","message":"Invalid"}]}
--- no_error_log
[error]



=== TEST 20: update (orderId + customerId), parameters in the query of a PUT
--- request eval
[
"PUT /music/update?orderId=ORD-1&customerId=cust-42&transactionId=tx-9&authentication="
. Gateway::cd_auth('acme-secret-0001', 'ORD-1', 'cust-42'),
"GET /__mock/cd/last",
]
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
--- response_body_like eval
[
qr/"path": "\/music\/update"/,
qr/"query": "orderId=ORD-1&customerId=cust-42&transactionId=tx-9&authentication=\Q${\ Gateway::cd_auth('upstream-cd-secret-key', 'ORD-1', 'cust-42')}\E"/,
]
--- no_error_log
[error]



=== TEST 21: cancel on tv, form body
--- request
PUT /tv/cancel
orderId=ORD-7&customerId=cust-42&cancelTransactionId=c-1&authentication=
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
. "Content-Type: application/x-www-form-urlencoded\n"
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"authentication","message":"Invalid"}]}
--- no_error_log
[error]



=== TEST 22: cancel on ebook, correctly signed
--- request eval
"PUT /ebook/cancel\n"
. "orderId=ORD-7&customerId=cust-42&authentication="
. Gateway::cd_auth('globex-secret-0002', 'ORD-7', 'cust-42')
--- more_headers eval
Gateway::cd_headers('globex-key-0002', 'globex-secret-0002')
. "Content-Type: application/x-www-form-urlencoded\n"
--- response_body chomp
{"path": "/ebook/cancel"}
--- no_error_log
[error]



=== TEST 23: reset download signs customerId + orderId, in that order
--- request eval
"PUT /music/resetdownload\n"
. "customerId=cust-42&orderId=ORD-1&authentication="
. Gateway::cd_auth('acme-secret-0001', 'cust-42', 'ORD-1')
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
. "Content-Type: application/x-www-form-urlencoded\n"
--- response_body chomp
{"path": "/music/resetdownload"}
--- no_error_log
[error]



=== TEST 24: reset download signed in the update order is refused
--- request eval
"PUT /music/resetdownload\n"
. "customerId=cust-42&orderId=ORD-1&authentication="
. Gateway::cd_auth('acme-secret-0001', 'ORD-1', 'cust-42')
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
. "Content-Type: application/x-www-form-urlencoded\n"
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"authentication","message":"Invalid"}]}
--- no_error_log
[error]



=== TEST 25: history (customerId + customerCountryCode)
--- request eval
"POST /history/all\n"
. "customerId=cust-42&customerCountryCode=us&authentication="
. Gateway::cd_auth('acme-secret-0001', 'cust-42', 'us')
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
. "Content-Type: application/x-www-form-urlencoded\n"
--- response_body_like chomp
"musicPurchases": \[\{"cdin": "CD0001"
--- no_error_log
[error]



=== TEST 26: history count
--- request eval
"POST /history/count\n"
. "customerId=cust-42&customerCountryCode=ca&authentication="
. Gateway::cd_auth('acme-secret-0001', 'cust-42', 'ca')
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
. "Content-Type: application/x-www-form-urlencoded\n"
--- response_body chomp
{"path": "/history/count"}
--- no_error_log
[error]



=== TEST 27: a partner without a secret needs no hash; the upstream still gets one
--- request eval
[
"POST /music/purchase\n"
. "cdin=CD0002&priceSold=99&customerId=c%2B1&customerCountryCode=us",
"GET /__mock/cd/last",
]
--- more_headers
cdaccesskeyid: umbrella-key-0004
Content-Type: application/x-www-form-urlencoded
--- response_body_like eval
[
qr/"orderId": "ORD-1"/,
qr/"body": "cdin=CD0002&priceSold=99&customerId=c%2B1&customerCountryCode=us&authentication=\Q${\ Gateway::cd_auth('upstream-cd-secret-key', 'CD0002', 'c+1', 'us', '99')}\E"/,
]
--- no_error_log
[error]



=== TEST 28: sevendigital_require_signature refuses a partner without a secret
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        sevendigital_require_signature on;
        proxy_pass http://choosedigital;
    }
--- request
GET /music
--- more_headers
cdaccesskeyid: umbrella-key-0004
--- error_code: 401
--- response_body chomp
{"errors":[{"parameter":"authorization","message":"Signature required"}]}
--- no_error_log
[error]



=== TEST 29: an authentication parameter on a method without one is not forwarded
--- request eval
[
"GET /music/genres?authentication=partner-value&tenantId=t1",
"GET /__mock/cd/last",
]
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
--- response_body_like eval
[
qr/"name": "Electronic"/,
qr/"query": "tenantId=t1"/,
]
--- no_error_log
[error]



=== TEST 30: $sevendigital_hashed_customer_id builds the download path
--- config
    location ~ "^/music/download/(?<cdin>[^/]+)/(?<country>[a-z]{2})$" {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://choosedigital/music/download/$cdin/$sevendigital_hashed_customer_id/$country;
    }
--- request eval
[
"GET /music/download/CD0001/us?customerId=cust-42",
"GET /__mock/cd/last",
]
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
--- response_body_like eval
[
qr/^\{"url": "https:\/\/example.invalid\/dl\/CD0001", "hashedCustomerId": "\Q${\ Gateway::cd_hashed_customer_id('cust-42')}\E"\}$/,
qr{"path": "/music/download/CD0001/\Q${\ Gateway::cd_hashed_customer_id('cust-42')}\E/us", "query": ""},
]
--- no_error_log
[error]



=== TEST 31: signed search, detail and list calls
--- request eval
[
"GET /music/search?term=midnight&country=us&rows=10",
"GET /music/detail/CD0001?country=us",
"GET /ebook/list/top/us?tenantId=t2",
"GET /__mock/cd/last",
]
--- more_headers eval
Gateway::cd_headers('globex-key-0002', 'globex-secret-0002', 'php')
--- response_body_like eval
[
qr/"numFound": 1/,
qr/^\{"path": "\/music\/detail\/CD0001"\}$/,
qr/^\{"path": "\/ebook\/list\/top\/us"\}$/,
qr/"path": "\/ebook\/list\/top\/us", "query": "tenantId=t2"/,
]
--- no_error_log
[error]



=== TEST 32: locations with other upstream secrets sign each with its own
A process signs each second's x-cd-date once per key: a location with another
secret file never sends the signature of the location before it (the mock
knows only upstream-cd.secret, so the other location's calls are refused).
--- config
    location /music {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://choosedigital;
    }
    location /movie {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-7d.secret;
        proxy_pass http://choosedigital;
    }
--- request eval
["GET /music", "GET /movie", "GET /music", "GET /movie"]
--- more_headers eval
Gateway::cd_headers('acme-key-0001', 'acme-secret-0001')
--- error_code eval
[200, 401, 200, 401]
--- no_error_log
[alert]
