# Hostile input: long query strings and thousands of parameters, NUL,
# CR/LF and other control characters in names and values, invalid UTF-8,
# invalid percent-encoding in the path and the query, a 1 GB declared body,
# values that try to add headers to the upstream request or lines to a
# log or to the audit trail, paths that try to dodge their endpoint's
# class or signing by case, "//", "/./", "..", a trailing slash or "%2F",
# and sales whose business fields say two things.  Each gets a clear 4xx
# in the API's own format (7digital XML or JSON, Choose Digital errors[]),
# the mocks' own logs show that nothing reached an upstream that should
# not, and the trail and the error log hold nothing forged.  After the
# blocks, a gateway of this file's own gets bodies that come slowly, stop,
# or break off on sales: they time out by client_body_timeout and leave
# either no record or an intent with its one outcome, never a lost or a
# false one.  docs/hostile-input.md.

# At the debug level nginx dumps the requests it sends upstream and the
# answers' headers over several lines; at info, the level production logs
# refusals at, every entry is one line, and a line that is not an entry is
# a forged one.  Both harnesses read this when they load.
BEGIN { $ENV{TEST_NGINX_LOG_LEVEL} = 'info' }

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

plan 'no_plan';
no_shuffle();
no_root_location();
Gateway::defaults();

our $K = 'acme-key-0001';
our $S = 'acme-secret-0001';

sub xml_error {
    my ($code, $message) = @_;
    return qr{^<\?xml version="1.0" encoding="utf-8"\?><response status="error" version="1.2"><error code="$code"><errorMessage>\Q$message\E</errorMessage></error></response>$};
}

sub json_error {
    my ($code, $message) = @_;
    return qr{^\{"status":"error","version":"1.2","error":\{"code":$code,"errorMessage":"\Q$message\E"\}\}$};
}

sub cd_error {
    my ($parameter, $message) = @_;
    return qr{^\{"errors":\[\{"parameter":"\Q$parameter\E","message":"\Q$message\E"\}\]\}$};
}

# the intent and the one outcome of a sale, by a value of its intent
sub sale_re {
    my ($marker, $outcome) = @_;
    return qr/"type":"intent","id":"(\w{32})"[^\n]*\Q$marker\E[^\n]*\n(?:[^\n]*\n)*?[^\n]*"type":"outcome","id":"\1"[^\n]*$outcome/;
}

# A line nginx did not begin: every line it writes starts with the time.
# A value that put a CR or LF into the error log would start one.
our $Forged = qr/^(?!\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[)/;

# the request parameters of a query or a body, n of them
sub many {
    my $n = shift;
    return join '&', map { "p$_=1" } 1 .. $n;
}

add_block_preprocessor(sub {
    my $block = shift;
    return if Gateway::same_nginx($block);
    my $http = $block->{http_config} ? $block->{http_config}[0] : '';
    # the shipped configuration's limits (conf/), unless a block says
    $http .= "    large_client_header_buffers 4 32k;\n"
        unless $http =~ /large_client_header_buffers/;
    $block->set_value('http_config', <<'CONF' . $http);
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;
    sevendigital_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    sevendigital_redis_timeout $TEST_NGINX_REDIS_TIMEOUT;
    sevendigital_audit_log $TEST_NGINX_AUDIT_LOG;
    proxy_next_upstream off;

    # the shipped access log format (conf/conf.d/sevendigital.conf)
    log_format gateway '$remote_addr [$time_local] $request_id '
                       '"$sevendigital_request" $status '
                       '$body_bytes_sent partner=$sevendigital_partner '
                       'auth=$sevendigital_auth_status '
                       'cache=$sevendigital_cache_status '
                       'upstream=$upstream_status rt=$request_time';
CONF
    my $config = $block->{config} ? $block->{config}[0] : '';
    $block->set_value('config', <<'CONF' . $config);
    # as the shipped servers: nginx's own errors in 7digital's format
    error_page 400 403 404 405 413 414 429 500 502 503 504
               /.sevendigital/7digital-error;

    location = /.sevendigital/7digital-error {
        internal;
        sevendigital_error 7digital;
    }

    access_log $TEST_NGINX_SERVER_ROOT/logs/gateway.log gateway;
    access_log $TEST_NGINX_SUITE_LOGS/access.log;

    location /1.2/ {
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_7D_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-7d.secret;
        sevendigital_upstream_origin http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
        client_body_buffer_size 64k;
        client_max_body_size 64k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }

    location /music/ {
        error_page 400 403 404 405 413 414 429 500 502 503 504 @cd_error;
        sevendigital_gateway choosedigital;
        sevendigital_upstream_key $TEST_NGINX_UPSTREAM_CD_KEY;
        sevendigital_upstream_secret_file $TEST_NGINX_FIXTURES/upstream-cd.secret;
        client_body_buffer_size 64k;
        client_max_body_size 64k;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_CD_PORT;
    }

    location @cd_error {
        sevendigital_error choosedigital;
    }

    location = /audit {
        sevendigital_gateway off;
        default_type text/plain;
        alias $TEST_NGINX_AUDIT_LOG;
    }

    location = /gateway-log {
        sevendigital_gateway off;
        access_log off;
        default_type text/plain;
        alias $TEST_NGINX_SERVER_ROOT/logs/gateway.log;
    }
CONF
});

# the sales' rate limit, from an earlier run
Gateway::redis('DEL', 'sevendigital:rl:purchase:acme',
               'sevendigital:rl:purchase:umbrella');

run_tests();

require JSON::PP;

# Every line of the trail the blocks left is one whole JSON record of a
# known type; every intent has exactly one outcome; no request refused
# for its text left any of that text in a record.
sub check_trail {
    my ($what, @must_not) = @_;
    open my $fh, '<', $ENV{TEST_NGINX_AUDIT_LOG} or die $!;
    my @lines = <$fh>;
    close $fh;
    my (@bad, %intent, %outcome);
    for my $line (@lines) {
        my $rec = eval { JSON::PP->new->decode($line) };
        if (!$rec || $line !~ /\n\z/
            || ($rec->{type} // '') !~ /^(?:intent|outcome|refused)$/)
        {
            push @bad, $line;
            next;
        }
        $intent{$rec->{id}}++ if $rec->{type} eq 'intent';
        $outcome{$rec->{id}}++ if $rec->{type} eq 'outcome';
    }
    is(scalar @bad, 0, "$what: every line of the trail is one whole record")
        or diag(join '', @bad[0 .. ($#bad > 2 ? 2 : $#bad)]);
    my @lost = grep { ($outcome{$_} // 0) != 1 } keys %intent;
    my @orphans = grep { !$intent{$_} } keys %outcome;
    ok(!@lost && !@orphans,
       "$what: each intent has exactly one outcome, each outcome its intent")
        or diag("lost: @lost; orphans: @orphans");
    my $trail = join '', @lines;
    for my $re (@must_not) {
        unlike($trail, $re, "$what: the trail has no $re");
    }
    return @lines;
}

check_trail('after the blocks', qr/X-Injected/, qr/t33-body-/,
            qr/t33-gig-/, qr/"transactionId":"t33-dup-[134]"/);

# --- bodies that come slowly, stop, or break off, on sales ---------------

my $port = Gateway::free_port();
my $body_timeout = Gateway::scaled(1);
my $dir = Gateway::start_nginx('hostile', <<"CONF", port => $port);
    sevendigital_partners $ENV{TEST_NGINX_FIXTURES}/partners.json;
    sevendigital_redis 127.0.0.1:$ENV{TEST_NGINX_REDIS_PORT};
    sevendigital_redis_timeout $ENV{TEST_NGINX_REDIS_TIMEOUT};
    sevendigital_audit_log $ENV{TEST_NGINX_AUDIT_LOG};
    proxy_next_upstream off;
    log_format hostile '\$status "\$request"';
    server {
        listen 127.0.0.1:$port;
        access_log $FindBin::Bin/servroot-hostile/logs/access.log hostile;
        client_body_timeout ${body_timeout}s;
        client_body_buffer_size 64k;
        client_max_body_size 64k;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_7D_PORT};
        }
        location /music/ {
            sevendigital_gateway choosedigital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_CD_KEY};
            sevendigital_upstream_secret_file $ENV{TEST_NGINX_FIXTURES}/upstream-cd.secret;
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_CD_PORT};
        }
        location /__mock/cd/ {
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_CD_PORT}/__mock/;
        }
        location /__mock/7d/ {
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_7D_PORT}/__mock/;
        }
    }
CONF

# Sends a request's head and the given pieces of its body, each after the
# pause before it (the client's slowness is what is tested: every pause is
# shorter than client_body_timeout, or the test waits for the server);
# then, unless "close" says to hang up, waits for the server's answer or
# its close.  Returns the status (0: closed without one) and the seconds
# from the last byte sent to the end.
sub slow_request {
    my (%a) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp')
        or die "connect: $!";
    my $length = $a{length} // length join '', map { $_->[1] } @{$a{body}};
    syswrite $s, "$a{head}\r\nHost: localhost\r\n"
                 . "Content-Type: $a{type}\r\n"
                 . "Content-Length: $length\r\nConnection: close\r\n"
                 . join('', map { "$_\r\n" } @{$a{headers} // []})
                 . "\r\n";
    for my $piece (@{$a{body}}) {
        my ($pause, $bytes) = @$piece;
        sleep $pause if $pause;
        syswrite $s, $bytes;
    }
    if ($a{close}) {
        close $s;
        return (0, 0);
    }
    my $start = time;
    my $sel = IO::Select->new($s);
    my $data = '';
    my $deadline = $start + Gateway::scaled(10);
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread $s, my $buf, 65536;
        last unless $n;
        $data .= $buf;
    }
    my $took = time - $start;
    close $s;
    my ($status) = $data =~ m{^HTTP/1\.1 (\d+)};
    return ($status // 0, $took, $data);
}

# the records of one transactionId in the trail
sub records {
    my $tx = shift;
    open my $fh, '<', $ENV{TEST_NGINX_AUDIT_LOG} or die $!;
    my @recs = map { JSON::PP->new->decode($_) }
               grep { /"transactionId":"\Q$tx\E"/ || /\Q$tx\E/ } <$fh>;
    close $fh;
    return @recs;
}

# the outcome of an intent, once the log phase has written it
sub outcome_of {
    my $id = shift;
    my $deadline = time + Gateway::scaled(10);
    while (time < $deadline) {
        open my $fh, '<', $ENV{TEST_NGINX_AUDIT_LOG} or die $!;
        my @out = grep { /"type":"outcome","id":"\Q$id\E"/ } <$fh>;
        close $fh;
        return map { JSON::PP->new->decode($_) } @out if @out;
        sleep 0.02;
    }
    return ();
}

Gateway::http_get($port, '/__mock/7d/reset');
Gateway::http_get($port, '/__mock/cd/reset');

my $cd_form = 'cdin=CD0001&customerId=slow-cust&customerCountryCode=us'
              . '&priceSold=100&transactionId=';
my $cd_head = "POST /music/purchase HTTP/1.1\r\n"
              . "cdaccesskeyid: umbrella-key-0004";

# 1. a form sale whose body stops: the gateway reads forms itself, before
# anything is decided; it gives up after client_body_timeout and closes
# the connection (nginx answers no 408); nothing was decided, nothing is
# recorded, nothing is sent
my ($status, $took) = slow_request(
    head => $cd_head, type => 'application/x-www-form-urlencoded',
    length => 400, body => [[0, $cd_form . 't33-stall-form']]);
is($status, 0, 'a form sale whose body stops: closed without an answer');
ok($took >= $body_timeout * 0.9,
   "... once client_body_timeout ($body_timeout s) had passed");

# 2. the same on a 7digital sale
($status, $took) = slow_request(
    head => "POST /1.2/basket/applyVoucher HTTP/1.1",
    type => 'application/x-www-form-urlencoded', length => 400,
    body => [[0, "voucherCode=X&transactionId=t33-stall-7d"
                 . "&oauth_consumer_key=$K"]]);
is($status, 0, 'a 7digital form sale whose body stops: closed, no answer');

# 3. a sale whose body the gateway does not read (JSON), with its fields
# in the query: the sale is recorded, then nginx waits for the body before
# connecting upstream and gives up; the outcome says it was never sent
my $q = 'cdin=CD0001&customerId=slow-cust&customerCountryCode=us'
        . '&priceSold=100&transactionId=t33-stall-json';
($status, $took) = slow_request(
    head => "POST /music/purchase?$q HTTP/1.1\r\n"
            . "cdaccesskeyid: umbrella-key-0004",
    type => 'application/json', length => 400,
    body => [[0, '{"note": "half a bod']]);
is($status, 0, 'a JSON sale whose body stops: closed without an answer');

my @intent = grep { $_->{type} eq 'intent' } records('t33-stall-json');
is(scalar @intent, 1, '... its intent was recorded before it waited');
my @outcome = @intent ? outcome_of($intent[0]{id}) : ();
is(scalar @outcome, 1, '... and it has exactly one outcome');
is_deeply([map { @$_{qw(status sent result reason)} } @outcome],
          [408, JSON::PP::false(), 'failed',
           'client timed out before the request was sent'],
          '... 408, not sent, failed: the client timed out');

# 4. the same, the client hanging up half-way
$q =~ s/t33-stall-json/t33-hangup-json/;
slow_request(head => "POST /music/purchase?$q HTTP/1.1\r\n"
                     . "cdaccesskeyid: umbrella-key-0004",
             type => 'application/json', length => 400,
             body => [[0, '{"note": "half']], close => 1);
@intent = ();
my $deadline = time + Gateway::scaled(10);
while (!@intent && time < $deadline) {
    @intent = grep { $_->{type} eq 'intent' } records('t33-hangup-json');
    sleep 0.02 unless @intent;
}
@outcome = @intent ? outcome_of($intent[0]{id}) : ();
is_deeply([map { @$_{qw(status sent result reason)} } @outcome],
          [400, JSON::PP::false(), 'failed',
           'client closed the connection before the request was sent'],
          'a client that hangs up half-way through a sale\'s body: 400 (as '
          . 'nginx logs it), not sent, failed');

# 5. a form sale whose client hangs up half-way: nothing recorded
slow_request(head => $cd_head, type => 'application/x-www-form-urlencoded',
             length => 400, body => [[0, $cd_form . 't33-hangup-form']],
             close => 1);

# 6. a body that comes slowly but steadily, each piece within the timeout:
# one sale, recorded, sent once
my $form = $cd_form . 't33-steady';
my $third = int(length($form) / 3);
my $pause = $body_timeout / 4;
my $data;
($status, $took, $data) = slow_request(
    head => $cd_head, type => 'application/x-www-form-urlencoded',
    body => [[0, substr($form, 0, $third)],
             [$pause, substr($form, $third, $third)],
             [$pause, substr($form, 2 * $third)]]);
is($status, 200, 'a sale whose body comes slowly but steadily: 200');
like($data, qr/"orderId"/, '... with the upstream\'s order');
@intent = grep { $_->{type} eq 'intent' } records('t33-steady');
@outcome = @intent ? outcome_of($intent[0]{id}) : ();
ok(@intent == 1 && @outcome == 1 && $outcome[0]{result} eq 'completed',
   '... one intent, one completed outcome');

is(Gateway::http_get($port, '/__mock/cd/count?path=/music/purchase')->{body},
   "1\n", 'the Choose Digital mock saw only the steady sale');
is(Gateway::http_get($port, '/__mock/7d/log')->{body}, '[]',
   'the 7digital mock saw nothing');

for my $tx (qw(t33-stall-form t33-stall-7d t33-hangup-form)) {
    is(scalar(records($tx)), 0, "$tx: no record of a sale never decided");
}

Gateway::stop_nginx($dir);

# nginx logs no error line when a body times out: its access log says 408
open my $access, '<', "$dir/logs/access.log" or die $!;
my @access = <$access>;
close $access;
is(scalar(grep { m{^408 "POST /(?:music/purchase|1\.2/basket/applyVoucher)} }
           @access), 3, 'the three bodies that stopped: 408 in the access log');
is(scalar(grep { m{^400 "POST /music/purchase} } @access), 2,
   'the two that broke off: 400');

is(Gateway::log_count($dir, $Forged), 0,
   'the error log of the slow bodies has no line nginx did not begin');
is(Gateway::log_count($dir, qr/\[alert\]|\[crit\]/), 0, '... and no alert');

check_trail('after the slow bodies');

__DATA__

=== TEST 1: NUL, CR/LF and other control characters in a query's values and names: 400 in 7digital's XML, nothing upstream, nothing forged in the log
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/release/details?releaseId=1%00&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=1%0D%0AX-Injected:%201&oauth_consumer_key=$main::K",
"GET /1.2/release/details?release%0AId=1&oauth_consumer_key=$main::K",
"GET /1.2/release/details?%00=1&releaseId=1&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=1&q=a%09b&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=%1B%5B31m1&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=1&q=%7F&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=1&q=a+%0A+b&oauth_consumer_key=$main::K",
"GET /__mock/7d/log",
]
--- error_code eval
[200, (400) x 8, 200]
--- response_body_like eval
["ok", (main::xml_error(1002, 'the query string has a control character')) x 8,
 qr/^\[\]$/]
--- no_error_log eval
[$main::Forged, qr/^X-Injected/, '[error]']



=== TEST 2: ... in 7digital's JSON when Accept asks, and in Choose Digital's errors[]
--- request eval
[
"GET /__mock/cd/reset",
"GET /1.2/release/details?releaseId=1%0D%0A&oauth_consumer_key=$main::K",
"GET /music/search?term=a%0D%0AX-Injected:%201&country=us",
"GET /music/search?term=%FF&country=us",
"GET /music/search?term=%zz&country=us",
"GET /music/search?" . main::many(300),
"GET /__mock/cd/log",
]
--- more_headers
Accept: application/json
cdaccesskeyid: umbrella-key-0004
--- error_code eval
[200, 400, 400, 400, 400, 400, 200]
--- response_body_like eval
[
"ok",
main::json_error(1002, 'the query string has a control character'),
main::cd_error('query', 'the query string has a control character'),
main::cd_error('query', 'the query string is not UTF-8'),
main::cd_error('query', 'the query string has invalid percent-encoding'),
main::cd_error('query', 'the query string has more than 256 parameters'),
qr/^\[\]$/,
]
--- no_error_log eval
[$main::Forged, '[error]']



=== TEST 3: invalid UTF-8 in a query (a stray byte, Latin-1, an overlong "/", a surrogate, past U+10FFFF, in a name): 400; valid UTF-8 goes through byte for byte
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/release/details?releaseId=1&q=%FF&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=1&q=caf%E9&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=1&q=%C0%AF&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=1&q=%ED%A0%80&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=1&q=%F4%90%80%80&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=1&%FE=1&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=2&q=caf%C3%A9+%E2%82%AC%F0%9F%8E%B5&oauth_consumer_key=$main::K",
"GET /__mock/7d/last",
"GET /__mock/7d/log",
]
--- error_code eval
[200, (400) x 6, 200, 200, 200]
--- response_body_like eval
["ok", (main::xml_error(1002, 'the query string is not UTF-8')) x 6,
 qr/^<\?xml/,
 qr/"query": "releaseId=2&q=caf%C3%A9\+%E2%82%AC%F0%9F%8E%B5&oauth_consumer_key=gateway-7d-consumer-key"/,
 qr/^\[\{"method": "GET", "path": "\/1.2\/release\/details", "signing": "unsigned"\}\]$/]



=== TEST 4: invalid percent-encoding in the query (nginx passes it on) and in the path (nginx refuses it), control characters and invalid UTF-8 in the decoded path: 400, nothing upstream
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/release/details?releaseId=%zz&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=%4&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=1&oauth_consumer_key=$main::K&q=%",
"GET /1.2/release/details?%%41=1&oauth_consumer_key=$main::K",
"GET /1.2/release/%zz?releaseId=1",
"GET /1.2/release/details%?releaseId=1",
"GET /1.2/release/det%00ails?releaseId=1",
"GET /1.2/release/details%0A?releaseId=1&oauth_consumer_key=$main::K",
"GET /1.2/release/details%0D%0AX-Injected:%201?releaseId=1&oauth_consumer_key=$main::K",
"GET /1.2/release/details%FF?releaseId=1&oauth_consumer_key=$main::K",
"GET /1.2/release%C0%AFdetails?releaseId=1&oauth_consumer_key=$main::K",
"GET /__mock/7d/log",
]
--- error_code eval
[200, (400) x 11, 200]
--- response_body_like eval
[
"ok",
(main::xml_error(1002, 'the query string has invalid percent-encoding')) x 4,
(main::xml_error(1002, 'Bad request')) x 3,
(main::xml_error(1002, 'the path has a control character')) x 2,
(main::xml_error(1002, 'the path is not UTF-8')) x 2,
qr/^\[\]$/,
]
--- no_error_log eval
[$main::Forged, qr/^X-Injected/, '[error]']



=== TEST 5: raw control characters in the request line are refused by nginx itself, in the API's format through error_page (nginx logs such a line as it came, so these carry no partner key)
--- raw_request eval
"GET /1.2/release/details?releaseId=1\x0b2 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_body_like eval
main::xml_error(1002, 'Bad request')



=== TEST 6: ... in the path too
--- same_nginx
--- raw_request eval
"GET /1.2/release/det\x1b[31mails?releaseId=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- error_code: 400
--- response_body_like eval
main::xml_error(1002, 'Bad request')



=== TEST 7: ... and the access log (the shipped format, nginx's escaping) has one whole line for each
--- same_nginx
--- request
GET /gateway-log
--- response_body_like eval
qr{\A(?:127\.0\.0\.1 \[[^\n]+\] \w{32} "[^\n]*" 400 \d+ partner=- auth=- cache=- upstream=- rt=[\d.]+\n){2}\z}
--- response_body_unlike eval
qr/[\x00-\x09\x0b-\x1f\x7f]/



=== TEST 8: CR/LF, raw control characters, invalid UTF-8 and percent-encoding in sales' form bodies: 400 in each API's format, recorded as refused without the text refused, nothing sent
--- request eval
[
"GET /__mock/7d/reset",
"GET /__mock/cd/reset",
"POST /1.2/basket/applyVoucher
voucherCode=AB%0D%0AX-Injected:%201&transactionId=t33-body-1&oauth_consumer_key=$main::K",
"POST /1.2/basket/applyVoucher
voucherCode=AB\nX-Injected: 1&transactionId=t33-body-2&oauth_consumer_key=$main::K",
"POST /1.2/basket/applyVoucher
voucherCode=AB%FFCD&transactionId=t33-body-3&oauth_consumer_key=$main::K",
"POST /1.2/basket/applyVoucher
voucherCode=%zz&transactionId=t33-body-4&oauth_consumer_key=$main::K",
"POST /1.2/basket/applyVoucher
" . CORE::join('&', ('a') x 10000),
"POST /music/purchase
cdin=CD0001&customerId=c%0D%0AX-Injected:%201&customerCountryCode=us&priceSold=100&transactionId=t33-body-5",
"POST /music/purchase
cdin=CD0001&customerId=c%C3&customerCountryCode=us&priceSold=100&transactionId=t33-body-6",
"GET /__mock/7d/log",
"GET /__mock/cd/log",
"GET /audit",
]
--- more_headers
Content-Type: application/x-www-form-urlencoded
cdaccesskeyid: umbrella-key-0004
--- error_code eval
[200, 200, (400) x 7, 200, 200, 200]
--- response_body_like eval
[
"ok", "ok",
(main::xml_error(1002, 'the form body has a control character')) x 2,
main::xml_error(1002, 'the form body is not UTF-8'),
main::xml_error(1002, 'the form body has invalid percent-encoding'),
main::xml_error(1002, 'the form body has more than 256 parameters'),
main::cd_error('body', 'the form body has a control character'),
main::cd_error('body', 'the form body is not UTF-8'),
qr/^\[\]$/, qr/^\[\]$/,
qr/"type":"refused"[^\n]*"partner":null,"api":"7digital","method":"POST","endpoint":"basket\/applyVoucher","path":"basket\/applyVoucher","client":"127.0.0.1","fields":\{\},"status":400,"reason":"the form body has a control character"\}\n(?:[^\n]*\n)*[^\n]*"type":"refused"[^\n]*"partner":null,"api":"choosedigital","method":"POST","endpoint":"music\/purchase","path":"music\/purchase","client":"127.0.0.1","fields":\{\},"status":400,"reason":"the form body is not UTF-8"\}/,
]
--- response_body_unlike eval
[qr/\A\z/, qr/\A\z/, (qr/X-Injected/) x 7, qr/\A\z/, qr/\A\z/,
 qr/X-Injected|t33-body-/]
--- no_error_log eval
[$main::Forged, qr/^X-Injected/, '[error]']



=== TEST 9: an OAuth Authorization header whose values decode to CR/LF or invalid UTF-8 is malformed: 401 as 7digital words it, nothing upstream
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/release/details?releaseId=1",
"GET /__mock/7d/log",
]
--- more_headers
Authorization: OAuth oauth_consumer_key="acme-key-0001", oauth_nonce="n%0D%0AX-Injected%3A%201"
--- error_code eval
[200, 401, 200]
--- response_body_like eval
["ok", qr/^OAuth authentication error: Malformed Authorization header$/,
 qr/^\[\]$/]
--- no_error_log eval
[$main::Forged, qr/^X-Injected/, '[error]']



=== TEST 10: ... invalid UTF-8 too
--- same_nginx
--- request
GET /1.2/release/details?releaseId=1
--- more_headers
Authorization: OAuth oauth_consumer_key="acme-key-0001%FF"
--- error_code: 401
--- response_body_like chomp
^OAuth authentication error: Malformed Authorization header$



=== TEST 11: the Authorization header the gateway builds: a partner's oauth_callback that tries to add a parameter to it stays one escaped value, and the upstream's oauthlib verifies the signature
--- request eval
[
"GET /__mock/7d/reset",
Gateway::oauth_requests({
    path => '/1.2/oauth/requesttoken?oauth_callback=http%3A%2F%2Fx%2F%22%2C%20oauth_token%3D%22evil%22%2C%20oauth_signature%3D%22x',
    key => $main::K, secret => $main::S, type => 'query' }),
"GET /__mock/7d/last",
]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
["ok", qr/^oauth_token=/,
 qr/"Authorization", "OAuth oauth_consumer_key=\\"gateway-7d-consumer-key\\", [^\]]*oauth_callback=\\"http%3A%2F%2Fx%2F%22%2C%20oauth_token%3D%22evil%22%2C%20oauth_signature%3D%22x\\"/]
--- response_body_unlike eval
[qr/\A\z/, qr/\A\z/, qr/oauth_token=\\"evil|oauth_signature=\\"x\\"/]



=== TEST 12: the headers the gateway sets upstream are its own: a partner's own x-cd-date, authorization and a second cdaccesskeyid in another case never reach Choose Digital
--- request eval
[
"GET /__mock/cd/reset",
"GET /music/search?term=x&country=us",
"GET /__mock/cd/last",
]
--- more_headers
cdaccesskeyid: umbrella-key-0004
CDACCESSKEYID: umbrella-key-0004
x-cd-date: forged-date
X-CD-Date: 2000-01-01T00:00:00Z
Authorization: forged-signature
--- error_code eval
[200, 200, 200]
--- response_body_like eval
["ok", qr/"numFound"/,
 qr/^(?!.*(?i:cdaccesskeyid).*(?i:cdaccesskeyid))(?!.*(?i:x-cd-date).*(?i:x-cd-date))(?!.*(?i:"authorization").*(?i:"authorization")).*"cdaccesskeyid", "gateway-cd-access-key"/s]
--- response_body_unlike eval
[qr/\A\z/, qr/\A\z/, qr/forged|2000-01-01|umbrella-key/]



=== TEST 13: ... and on 7digital: another scheme's Authorization is removed, and an encoded "&" or "=" in a value stays inside that value: the partner cannot add a parameter
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/release/details?releaseId=1%26oauth_consumer_key%3Dforged-key%26x%3D&oauth_consumer_key=$main::K",
"GET /__mock/7d/last",
]
--- more_headers
Authorization: Bearer forged-token
--- error_code eval
[200, 200, 200]
--- response_body_like eval
["ok", qr/^<\?xml/,
 qr/"query": "releaseId=1%26oauth_consumer_key%3Dforged-key%26x%3D&oauth_consumer_key=gateway-7d-consumer-key"/]
--- response_body_unlike eval
[qr/\A\z/, qr/\A\z/, qr/forged-token|"Authorization"/]



=== TEST 14: 10 000 parameters, and a 64 KB query string, under the shipped large_client_header_buffers (4 32k): 414 in the API's format before the gateway runs
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/release/details?" . main::many(10000) . "&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=1&q=" . ('x' x 65536) . "&oauth_consumer_key=$main::K",
"GET /__mock/7d/log",
]
--- error_code eval
[200, 414, 414, 200]
--- response_body_like eval
["ok", (main::xml_error(1003, 'Request URI too long')) x 2, qr/^\[\]$/]



=== TEST 15: with buffers large enough for them: 10 000 or 257 parameters are refused, 256 and a 60 000-byte value go through unchanged
--- http_config
    large_client_header_buffers 4 128k;
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/release/details?" . main::many(10000) . "&oauth_consumer_key=$main::K",
"GET /1.2/release/details?" . main::many(256) . "&oauth_consumer_key=$main::K",
"GET /1.2/release/details?" . main::many(255) . "&oauth_consumer_key=$main::K",
"GET /1.2/release/details?releaseId=1&q=" . ('x' x 60000) . "&oauth_consumer_key=$main::K",
"GET /__mock/7d/last",
"GET /__mock/7d/log",
]
--- error_code eval
[200, 400, 400, 200, 200, 200, 200]
--- response_body_like eval
["ok", (main::xml_error(1002, 'the query string has more than 256 parameters')) x 2,
 qr/^<\?xml/, qr/^<\?xml/,
 qr/"query": "releaseId=1&q=x{60000}&oauth_consumer_key=gateway-7d-consumer-key"/,
 qr/^\[\{"method": "GET", "path": "\/1.2\/release\/details", "signing": "unsigned"\}, \{"method": "GET", "path": "\/1.2\/release\/details", "signing": "unsigned"\}\]$/]



=== TEST 16: a 1 GB declared body on a 7digital sale: 413 in XML at once, before any of it is read
--- config
    # nginx waits this long for the body it discards before it closes
    lingering_timeout 1s;
--- raw_request eval
"POST /1.2/basket/applyVoucher HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\nvoucherCode=X&transactionId=t33-gig-7d&oauth_consumer_key=$main::K"
--- error_code: 413
--- response_body_like eval
main::xml_error(1003, 'Request body too large')
--- error_log
client intended to send too large body: 1073741824 bytes



=== TEST 17: ... on a Choose Digital sale, in errors[]
--- same_nginx
--- raw_request eval
"POST /music/purchase HTTP/1.1\r\nHost: localhost\r\ncdaccesskeyid: umbrella-key-0004\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1073741824\r\nConnection: close\r\n\r\ncdin=CD0001&customerId=c1&customerCountryCode=us&priceSold=100&transactionId=t33-gig-cd"
--- error_code: 413
--- response_body_like eval
main::cd_error('request', 'Request body too large')
--- error_log
client intended to send too large body: 1073741824 bytes



=== TEST 18: ... neither reached an upstream, neither left a record
--- same_nginx
--- request eval
["GET /__mock/7d/count?path=/1.2/basket/applyVoucher",
 "GET /__mock/cd/count?path=/music/purchase", "GET /audit"]
--- response_body_like eval
["^0\n\$", "^0\n\$", qr/\A(?:[^\n]*\n)*\z/]
--- response_body_unlike eval
[qr/\A\z/, qr/\A\z/, qr/t33-gig-/]



=== TEST 19: a call that needs the partner's signature cannot lose it by case, "//", "/./", "..", "%2F", "%2E%2E" or a trailing slash: 401, nothing upstream
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/USER/details?userId=1&oauth_consumer_key=$main::K",
"GET /1.2/user//details?userId=1&oauth_consumer_key=$main::K",
"GET /1.2/user/./details?userId=1&oauth_consumer_key=$main::K",
"GET /1.2/user/details/?userId=1&oauth_consumer_key=$main::K",
"GET /1.2/user%2Fdetails?userId=1&oauth_consumer_key=$main::K",
"GET /1.2/user/%2e/details?userId=1&oauth_consumer_key=$main::K",
"GET /1.2/release/../user/details?userId=1&oauth_consumer_key=$main::K",
"GET /1.2/user/%2E%2E/User/DETAILS/?userId=1&oauth_consumer_key=$main::K",
"GET /1.2//user///Details//?userId=1&oauth_consumer_key=$main::K",
"GET /__mock/7d/log",
]
--- error_code eval
[200, (401) x 9, 200]
--- response_body_like eval
["ok", (qr/^OAuth authentication error: This resource requires a signature$/) x 9,
 qr/^\[\]$/]



=== TEST 20: a sale stays a sale in any spelling of its path: each recorded before it left (the mock refuses a sale with no intent in the trail), each with one outcome
--- request eval
[
"GET /__mock/7d/reset",
"GET /1.2/BASKET/Create?transactionId=t33-case-1&oauth_consumer_key=$main::K",
"GET /1.2/basket//create/?transactionId=t33-case-2&oauth_consumer_key=$main::K",
"GET /1.2/basket%2Fcreate?transactionId=t33-case-3&oauth_consumer_key=$main::K",
"GET /1.2/./basket/%63reate?transactionId=t33-case-4&oauth_consumer_key=$main::K",
"GET /1.2/user/../basket/create?transactionId=t33-case-5&oauth_consumer_key=$main::K",
"GET /__mock/7d/log",
("GET /audit") x 6,
]
--- error_code eval
[(200) x 13]
--- response_body_like eval
[
"ok", (qr/^<\?xml/) x 5,
qr/^\[(?:\{"method": "GET", "path": "\/1.2\/(?:BASKET\/Create|basket\/create\/?)", "signing": "unsigned"\}(?:, |\]$)){5}/,
(map { main::sale_re(qq("transactionId":"t33-case-$_"), '"result":"completed"') } 1 .. 5),
# every record of these sales names the endpoint
qr/\A(?:(?:(?=[^\n]*t33-case-)[^\n]*"endpoint":"basket\/create"|(?![^\n]*t33-case-))[^\n]*\n)*\z/,
]



=== TEST 21: a sale whose business field has two values is refused before it is recorded or sent, in each API's format; the same value twice is one value
--- request eval
[
"GET /__mock/7d/reset",
"GET /__mock/cd/reset",
"GET /1.2/basket/addItem?basketId=b1&releaseId=1&releaseId=2&transactionId=t33-dup-1&oauth_consumer_key=$main::K",
"GET /1.2/basket/addItem?basketId=b1&releaseId=7&releaseId=7&transactionId=t33-dup-2&oauth_consumer_key=$main::K",
"GET /__mock/7d/log",
]
--- error_code eval
[200, 200, 400, 200, 200]
--- response_body_like eval
[
"ok", "ok",
main::xml_error(1002, 'Conflicting values for releaseId'),
qr/^<\?xml/,
qr/^\[\{"method": "GET", "path": "\/1.2\/basket\/addItem", "signing": "unsigned"\}\]$/,
]



=== TEST 22: ... on Choose Digital, a field in the query and in the body
--- same_nginx
--- request eval
[
"POST /music/purchase?transactionId=t33-dup-3
cdin=CD0001&customerId=c1&customerCountryCode=us&priceSold=100&transactionId=t33-dup-4",
"GET /__mock/cd/log",
"GET /audit",
]
--- more_headers
Content-Type: application/x-www-form-urlencoded
cdaccesskeyid: umbrella-key-0004
--- error_code eval
[400, 200, 200]
--- response_body_like eval
[
main::cd_error('transactionId', 'Conflicting values'),
qr/^\[\]$/,
qr/"type":"refused"[^\n]*"partner":"acme"[^\n]*"endpoint":"basket\/addItem"[^\n]*"fields":\{\},"status":400,"reason":"Conflicting values for releaseId"\}\n(?:[^\n]*\n)*?[^\n]*"type":"intent"[^\n]*"releaseId":"7"[^\n]*"transactionId":"t33-dup-2"[^\n]*\n(?:[^\n]*\n)*?[^\n]*"type":"refused"[^\n]*"partner":"umbrella"[^\n]*"endpoint":"music\/purchase"[^\n]*"fields":\{\},"status":400,"reason":"Conflicting values"\}/,
]



=== TEST 23: a path that tries to write a record of its own into the trail: refused, and written as one escaped string of one refused record
--- request eval
[
"GET /1.2/user/purchase/x%0A%7B%22v%22%3A1%2C%22type%22%3A%22intent%22%7D?oauth_consumer_key=$main::K",
"GET /1.2/user/purchase/x%22%2C%22type%22%3A%22intent?oauth_consumer_key=$main::K",
"GET /audit",
]
--- error_code eval
[400, 401, 200]
--- response_body_like eval
[
main::xml_error(1002, 'the path has a control character'),
qr/^OAuth authentication error: This resource requires a signature$/,
qr/\n\{"v":1,"time":"[^"]+","type":"refused",[^\n]*"path":"user\/purchase\/x\\n\{\\"v\\":1,\\"type\\":\\"intent\\"\}",[^\n]*"status":400,"reason":"the path has a control character"\}\n(?:[^\n]*\n)*?\{"v":1,"time":"[^"]+","type":"refused",[^\n]*"path":"user\/purchase\/x\\",\\"type\\":\\"intent",[^\n]*"status":401/,
]
--- response_body_unlike eval
[qr/\A\z/, qr/\A\z/, qr/^\{"v":1,"type":"intent"\}/m]
--- no_error_log eval
[$main::Forged, '[error]']
