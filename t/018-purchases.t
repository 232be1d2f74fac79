# The audit trail: every sale is written down before it leaves (the mocks
# refuse a sale whose intent is not yet in the trail), its outcome follows
# with the sale's id or why it is in doubt, refused attempts are recorded,
# secrets never are, and a sale the trail cannot take does not happen.
# The trail is read back through /audit, a plain file location.

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;

plan 'no_plan';
no_shuffle();
Gateway::defaults();

our $A = 'acme-key-0001';
our $S = 'acme-secret-0001';

# one transactionId per block, so each block finds its own records
sub deliver {
    my ($tx, %extra) = @_;
    my $q = "userId=u-1&releaseId=12345&trackId=678&country=GB"
            . "&transactionId=$tx&retailPrice=0.99&currency=GBP";
    $q .= "&$_=$extra{$_}" for sort keys %extra;
    return "/1.2/user/deliveritem?$q";
}

# the intent and the outcome of one sale, by a value of its intent
sub sale_re {
    my ($marker, $outcome) = @_;
    return qr/"type":"intent","id":"(\w{32})"[^\n]*\Q$marker\E[^\n]*\n(?:[^\n]*\n)*?[^\n]*"type":"outcome","id":"\1"[^\n]*$outcome/;
}

add_block_preprocessor(sub {
    my $block = shift;
    return if Gateway::same_nginx($block);
    my $http = $block->{http_config} ? $block->{http_config}[0] : <<'CONF';
    sevendigital_audit_log $TEST_NGINX_AUDIT_LOG;
CONF
    $http = <<'CONF' . $http if $http !~ /sevendigital_redis /;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
CONF
    $block->set_value('http_config', <<'CONF' . $http);
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    proxy_next_upstream off;

    upstream twice {
        # the same mock twice: a retry would reach it a second time
        server 127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
        server 127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
CONF
    my $config = $block->{config} ? $block->{config}[0] : <<'CONF';
    location /1.2/ {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
CONF
    $block->set_value('config', <<'CONF' . $config);
    sevendigital_gateway 7digital;
    sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
    sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-7d.secret;
    sevendigital_upstream_origin http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;

    location /music/ {
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_CD_PORT;
    }

    location = /audit {
        sevendigital_gateway off;
        default_type text/plain;
        alias $TEST_NGINX_AUDIT_LOG;
    }
CONF
});

# the purchase limit's count from an earlier run
Gateway::redis('DEL', 'sevendigital:rl:purchase:acme');

run_tests();

# what an operator runs every night finds the sales left in doubt
my $tool = "$FindBin::Bin/../bin/sevendigital-audit";
my $report = `$tool $ENV{TEST_NGINX_AUDIT_LOG}`;
is($? >> 8, 1, 'the reconciliation tool exits 1: sales are in doubt');
like($report, qr/transactionId=t18-timeout[^\n]*upstream timed out after the request was sent/,
     'it lists the sale whose upstream timed out');
like($report, qr/transactionId=t18-reset[^\n]*closed the connection/,
     'and the one whose upstream closed the connection');
like($report, qr/acme\s+GBP\s+\d+\s+\d+\.\d\d/,
     'and totals the completed sales by partner and currency');

open my $fh, '<', $ENV{TEST_NGINX_AUDIT_LOG} or die $!;
my @lines = <$fh>;
close $fh;
require JSON::PP;
my $bad = grep { !eval { JSON::PP::decode_json($_); 1 } } @lines;
is($bad, 0, 'every line of the trail is one whole JSON object');
my $trail = join '', @lines;
unlike($trail, qr/acme-secret|oauth_signature|hunter2|4111111111111111|jane\@|bob\@|SW1A|90210/,
       'no secret, card number, password, e-mail or post code in the trail');

my $stream = Gateway::redis('XLEN', 'sevendigital:audit');
ok($stream >= 2, 'the Redis stream has its copies of the records');

__DATA__

=== TEST 1: deliveritem: the intent is on disk before the mock sees the sale, the outcome names the purchase id
--- request eval
Gateway::oauth_request('t1', path => main::deliver('t18-1',
    emailAddress => 'jane%40example.com', postCode => 'SW1A%201AA',
    password => 'hunter2'),
    key => $main::A, secret => $main::S)->{request}
--- more_headers eval
Gateway::oauth_request('t1')->{headers}
--- response_body_like chomp
<purchase id="P-\d+"
--- no_error_log
[error]



=== TEST 2: ... one intent, one outcome, sharing the request id
--- same_nginx
--- request
GET /audit
--- response_body_like eval
[main::sale_re('"transactionId":"t18-1"',
  '"status":200,"upstream_status":200,"sent":true,"duration_ms":\d+,"purchase_id":"P-\d+","result":"completed"')]



=== TEST 3: ... with the sale's fields, personal data masked
--- same_nginx
--- request
GET /audit
--- response_body_like eval
qr/"type":"intent"[^\n]*"partner":"acme","api":"7digital","method":"GET","endpoint":"user\/deliveritem","path":"user\/deliveritem","client":"127.0.0.1","fields":\{"userId":"u-1","emailAddress":"j\*\*\*\@example.com","releaseId":"12345","trackId":"678","country":"GB","transactionId":"t18-1","retailPrice":"0.99","currency":"GBP","postCode":"\*\*\*"\},"amount":"0.99","currency":"GBP"\}/



=== TEST 4: sevendigital_audit_personal_data on keeps them
--- http_config
    sevendigital_audit_log $TEST_NGINX_AUDIT_LOG;
    sevendigital_audit_personal_data on;
--- request eval
[Gateway::oauth_requests({ path => main::deliver('t18-4',
    emailAddress => 'kept%40example.org'), key => $main::A,
    secret => $main::S }), "GET /audit"]
--- response_body_like eval
[qr/<purchase id=/, qr/"emailAddress":"kept\@example.org"[^\n]*"transactionId":"t18-4"/]



=== TEST 5: a Choose Digital purchase: the order id, the amount in points, no hash in the record
--- request eval
["POST /music/purchase
cdin=CD0001&customerId=cust-9&customerCountryCode=us&priceSold=100&currencyType=points&customerEmail=bob%40example.com&customerPostalCode=90210&transactionId=t18-5", "GET /audit"]
--- more_headers
cdaccesskeyid: umbrella-key-0004
Content-Type: application/x-www-form-urlencoded
--- response_body_like eval
[qr/"orderId": "ORD-1"/,
 main::sale_re('"transactionId":"t18-5"', '"purchase_id":"ORD-1","result":"completed"')]
--- response_body_unlike eval
[qr/\A\z/, qr/"authentication"|bob\@|90210/]



=== TEST 6: a refund carries the purchase and track ids from its path
--- request eval
[Gateway::oauth_requests({ method => 'DELETE',
    path => '/1.2/user/purchase/P-77/track/42?country=GB&transactionId=t18-6',
    key => $main::A, secret => $main::S }), "GET /audit"]
--- response_body_like eval
[qr/echo path="\/user\/purchase\/P-77\/track\/42"/,
 main::sale_re('"fields":{"purchaseId":"P-77","trackId":"42","country":"GB","transactionId":"t18-6"}', '"result":"completed"')]



=== TEST 7: deliveritem's parameters are checked first, in XML whatever Accept says; nothing is sent, the refusal is recorded
--- request eval
[
"GET /__mock/7d/reset",
Gateway::oauth_requests(
    map { { path => $_, key => $main::A, secret => $main::S } }
    main::deliver('t18-7a') =~ s/retailPrice=0.99/retailPrice=-1/r,
    main::deliver('t18-7b') =~ s/retailPrice=0.99/retailPrice=1,99/r,
    main::deliver('t18-7c') =~ s/retailPrice=0.99/retailPrice=0.999/r,
    main::deliver('t18-7d') =~ s/country=GB/country=GBR/r,
    main::deliver('t18-7e') =~ s/currency=GBP/currency=GB/r,
    main::deliver('t18-7f') =~ s/&transactionId=t18-7f//r),
"GET /__mock/7d/count?path=/1.2/user/deliveritem",
"GET /audit",
]
--- more_headers
Accept: application/json
--- error_code eval
[200, 400, 400, 400, 400, 400, 400, 200, 200]
--- response_body_like eval
[
"ok",
qr/^<\?xml version="1.0" encoding="utf-8"\?><response status="error" version="1.2"><error code="1002"><errorMessage>Invalid value for retailPrice<\/errorMessage><\/error><\/response>$/,
qr/<error code="1002"><errorMessage>Invalid value for retailPrice</,
qr/<error code="1002"><errorMessage>Invalid value for retailPrice</,
qr/<error code="1002"><errorMessage>Invalid value for country</,
qr/<error code="1002"><errorMessage>Invalid value for currency</,
qr/<error code="1001"><errorMessage>Missing parameter transactionId</,
"^0\n\$",
qr/"type":"refused"[^\n]*"partner":"acme"[^\n]*"transactionId":"t18-7a"[^\n]*"status":400,"reason":"Invalid value for retailPrice"/,
]



=== TEST 8: refused attempts are recorded without a partner when none was identified
--- request eval
["POST /music/purchase
cdin=CD0001&customerId=cust-9&customerCountryCode=us&priceSold=100&transactionId=t18-8a",
"GET /audit"]
--- more_headers
cdaccesskeyid: nobody-key
Content-Type: application/x-www-form-urlencoded
--- error_code eval
[401, 200]
--- response_body_like eval
[qr/"errors"/,
 qr/"type":"refused"[^\n]*"partner":null[^\n]*"transactionId":"t18-8a"[^\n]*"status":401,"reason":"Invalid access key id"/]



=== TEST 9: ... and a key that failed its checks is only a claim
--- request eval
["POST /music/purchase
cdin=CD0001&customerId=cust-9&customerCountryCode=us&priceSold=100&transactionId=t18-8b&authentication=forged",
"GET /audit"]
--- more_headers
cdaccesskeyid: acme-key-0001
Content-Type: application/x-www-form-urlencoded
--- error_code eval
[401, 200]
--- response_body_like eval
[qr/"errors"/,
 qr/"type":"refused"[^\n]*"partner":null,"claimed_partner":"acme"[^\n]*"transactionId":"t18-8b"[^\n]*"status":401/]



=== TEST 10: a trail that cannot be written ...
--- http_config
    sevendigital_audit_log /dev/full;
--- request eval
["GET /__mock/7d/reset", "GET /__mock/cd/reset"]



=== TEST 11: ... refuses a 7digital sale with 503 in XML, whatever Accept says
--- same_nginx
--- request eval
Gateway::oauth_requests({ path => main::deliver('t18-9'), key => $main::A,
                          secret => $main::S })
--- more_headers
Accept: application/json
--- error_code: 503
--- response_body chomp
<?xml version="1.0" encoding="utf-8"?><response status="error" version="1.2"><error code="9001"><errorMessage>The sale could not be recorded, it was not sent; try again later</errorMessage></error></response>
--- error_log
audit record not written to "/dev/full"
a sale by partner "acme" was refused, its audit record could not be written



=== TEST 12: ... and a Choose Digital one in its errors[] format
--- same_nginx
--- request
POST /music/purchase
cdin=CD0001&customerId=cust-9&customerCountryCode=us&priceSold=100
--- more_headers
cdaccesskeyid: umbrella-key-0004
Content-Type: application/x-www-form-urlencoded
--- error_code: 503
--- response_body chomp
{"errors":[{"parameter":"request","message":"The sale could not be recorded, it was not sent; try again later"}]}
--- error_log
audit record not written to "/dev/full"



=== TEST 13: ... and nothing reached either upstream
--- same_nginx
--- request eval
["GET /__mock/7d/count?path=/1.2/user/deliveritem",
 "GET /__mock/cd/count?path=/music/purchase"]
--- response_body eval
["0\n", "0\n"]



=== TEST 14: the upstream times out after reading the sale: not sent again, the outcome says so
--- config
    location /1.2/ {
        proxy_read_timeout 1s;
        proxy_set_header Host 127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
        proxy_pass http://twice;
    }
--- request eval
[
"GET /__mock/7d/reset",
"GET /__mock/7d/fail?path=/1.2/user/deliveritem&delay=3",
Gateway::oauth_requests({ path => main::deliver('t18-timeout'),
                          key => $main::A, secret => $main::S }),
"GET /__mock/7d/count?path=/1.2/user/deliveritem",
"GET /audit",
]
--- error_code eval
[200, 200, 504, 200, 200]
--- response_body_like eval
["ok", "ok", qr/./, "^1\n\$",
 main::sale_re('"transactionId":"t18-timeout"', '"status":504,"upstream_status":null,"sent":true,"duration_ms":\d+,"result":"in_doubt","reason":"upstream timed out after the request was sent"')]



=== TEST 15: the upstream closes the connection after reading the sale: not sent to the second server
--- config
    location /1.2/ {
        proxy_set_header Host 127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
        proxy_pass http://twice;
    }
--- request eval
[
"GET /__mock/7d/reset",
"GET /__mock/7d/fail?path=/1.2/user/deliveritem&close=1",
Gateway::oauth_requests({ path => main::deliver('t18-reset'),
                          key => $main::A, secret => $main::S }),
"GET /__mock/7d/count?path=/1.2/user/deliveritem",
"GET /audit",
]
--- error_code eval
[200, 200, 502, 200, 200]
--- response_body_like eval
["ok", "ok", qr/./, "^1\n\$",
 main::sale_re('"transactionId":"t18-reset"', '"status":502,"upstream_status":null,"sent":true,"duration_ms":\d+,"result":"in_doubt","reason":"upstream closed the connection after the request was sent"')]



=== TEST 16: with nginx's default proxy_next_upstream a GET sale would go to the second server: the record says so
--- config
    location /1.2/ {
        proxy_next_upstream error timeout;
        proxy_set_header Host 127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
        proxy_pass http://twice;
    }
--- request eval
[
"GET /__mock/7d/reset",
"GET /__mock/7d/fail?path=/1.2/user/deliveritem&close=1",
Gateway::oauth_requests({ path => main::deliver('t18-twice'),
                          key => $main::A, secret => $main::S }),
"GET /__mock/7d/count?path=/1.2/user/deliveritem",
"GET /audit",
]
--- error_code eval
[200, 200, 200, 200, 200]
--- response_body_like eval
["ok", "ok", qr/<purchase id=/, "^2\n\$",
 main::sale_re('"transactionId":"t18-twice"', '"result":"in_doubt","reason":"sent to 2 upstream servers"')]



=== TEST 17: a copy of each record in a Redis stream
--- http_config
    sevendigital_audit_log $TEST_NGINX_AUDIT_LOG;
    sevendigital_audit_stream sevendigital:audit maxlen=1000;
--- request eval
Gateway::redis('DEL', 'sevendigital:audit');
Gateway::oauth_requests({ path => main::deliver('t18-13'), key => $main::A,
                          secret => $main::S })
--- response_body_like chomp
<purchase id=



=== TEST 18: a stream whose Redis is down never holds up a sale; the file has it
--- http_config
    sevendigital_redis 127.0.0.1:$TEST_NGINX_BLACKHOLE_PORT;
    sevendigital_redis_timeout 100ms;
    sevendigital_idempotency off;
    sevendigital_audit_log $TEST_NGINX_AUDIT_LOG;
    sevendigital_audit_stream sevendigital:audit;
--- request eval
[Gateway::oauth_requests({ path => main::deliver('t18-14'),
                           key => $main::A, secret => $main::S }),
 "GET /audit"]
--- response_body_like eval
[qr/<purchase id=/, main::sale_re('"transactionId":"t18-14"', '"result":"completed"')]



=== TEST 19: a sale answered with an error that error_page sends to another gateway location is not sent again
--- config
    location /1.2/ {
        proxy_intercept_errors on;
        error_page 502 = @again;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }

    location @again {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[
"GET /__mock/7d/reset",
"GET /__mock/7d/fail?path=/1.2/user/deliveritem&status=502",
Gateway::oauth_requests({ path => main::deliver('t18-again'),
                          key => $main::A, secret => $main::S }),
"GET /__mock/7d/count?path=/1.2/user/deliveritem",
"GET /audit",
]
--- error_code eval
[200, 200, 502, 200, 200]
--- response_body_like eval
["ok", "ok", qr/./, "^1\n\$",
 main::sale_re('"transactionId":"t18-again"', '"status":502,"upstream_status":502,"sent":true,"duration_ms":\d+,"result":"in_doubt","reason":"upstream answered 502"')]



=== TEST 20: ... and one redirected to a location without the gateway still gets its outcome
--- config
    location /1.2/ {
        proxy_intercept_errors on;
        error_page 502 /oops;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }

    location = /oops {
        sevendigital_gateway off;
        return 502 "sorry\n";
    }
--- request eval
[
"GET /__mock/7d/fail?path=/1.2/user/deliveritem&status=502",
Gateway::oauth_requests({ path => main::deliver('t18-oops'),
                          key => $main::A, secret => $main::S }),
"GET /audit",
]
--- error_code eval
[200, 502, 200]
--- response_body_like eval
["ok", "sorry",
 main::sale_re('"transactionId":"t18-oops"', '"result":"in_doubt","reason":"upstream answered 502"')]



=== TEST 21: "satisfy any" with an address allowed first: the partner is still checked, and a sale still recorded
--- config
    location /1.2/ {
        satisfy any;
        allow 127.0.0.1;
        deny all;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[
"GET /1.2/release/details?releaseId=1&oauth_consumer_key=nobody",
Gateway::oauth_requests({ path => main::deliver('t18-any'),
                          key => $main::A, secret => $main::S }),
"GET /audit",
]
--- error_code eval
[401, 200, 200]
--- response_body_like eval
[qr/Invalid consumer key/, qr/<purchase id=/,
 main::sale_re('"transactionId":"t18-any"', '"result":"completed"')]



=== TEST 22: a mirror of a sale ...
--- config
    location /1.2/ {
        mirror /copy;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }

    # even where the gateway is off
    location = /copy {
        internal;
        sevendigital_gateway off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT$request_uri;
    }
--- request
GET /__mock/7d/reset



=== TEST 23: ... is refused
--- same_nginx
--- request eval
Gateway::oauth_requests({ path => main::deliver('t18-mirror'),
                          key => $main::A, secret => $main::S })
--- response_body_like chomp
<purchase id=
--- error_log
a subrequest to a gateway location, or of a sale, was refused



=== TEST 24: ... and the upstream saw the sale once
--- same_nginx
--- request
GET /__mock/7d/count?path=/1.2/user/deliveritem
--- response_body
1



=== TEST 25: a sale goes upstream uncompressed and without its Idempotency-Key
--- request eval
[
Gateway::oauth_requests({ path => main::deliver('t18-gzip'),
                          key => $main::A, secret => $main::S }),
"GET /__mock/7d/last",
]
--- more_headers
Accept-Encoding: gzip
Idempotency-Key: t18-gzip-key
--- response_body_like eval
[qr/<purchase id=/, qr/^(?!.*(?:Accept-Encoding|Idempotency-Key)).*"path": "\/1.2\/user\/deliveritem"/s]



=== TEST 26: a sale redirected by error_page to a location without the gateway that proxies is not sent again
--- config
    location /1.2/ {
        proxy_intercept_errors on;
        error_page 502 = @plain;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }

    location @plain {
        sevendigital_gateway off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[
"GET /__mock/7d/reset",
"GET /__mock/7d/fail?path=/1.2/user/deliveritem&status=502",
Gateway::oauth_requests({ path => main::deliver('t18-plain'),
                          key => $main::A, secret => $main::S }),
"GET /__mock/7d/count?path=/1.2/user/deliveritem",
]
--- error_code eval
[200, 200, 502, 200]
--- response_body_like eval
["ok", "ok", qr/./, "^1\n\$"]



=== TEST 27: try_files before a gateway location: the sale has not been anywhere, it goes
--- config
    location /1.2/ {
        try_files /maintenance.html @api;
    }

    location @api {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[
"GET /__mock/7d/reset",
Gateway::oauth_requests({ path => main::deliver('t18-try'),
                          key => $main::A, secret => $main::S }),
"GET /__mock/7d/count?path=/1.2/user/deliveritem",
]
--- response_body_like eval
["ok", qr/<purchase id=/, "^1\n\$"]



=== TEST 28: a sale over the partner's purchase limit: 429 in XML (deliveritem's format), not sent, recorded as refused
--- config
    location /1.2/ {
        sevendigital_rate_limit purchase rate=1r/h;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- request eval
[
"GET /__mock/7d/reset",
Gateway::oauth_requests(
    map { { path => main::deliver($_), key => $main::A, secret => $main::S } }
    't18-rl-1', 't18-rl-2'),
"GET /__mock/7d/count?path=/1.2/user/deliveritem",
"GET /audit",
]
--- more_headers
Accept: application/json
--- error_code eval
[200, 200, 429, 200, 200]
--- response_body_like eval
["ok", qr/"purchase": \{"id": "P-/,
 qr{^<\?xml version="1.0" encoding="utf-8"\?><response status="error" version="1.2"><error code="7001"><errorMessage>Rate limit exceeded, retry later</errorMessage></error></response>$},
 "^1\n\$",
 qr/"type":"refused"[^\n]*"partner":"acme"[^\n]*"transactionId":"t18-rl-2"[^\n]*"status":429,"reason":"Rate limit exceeded, retry later"/]
