# The Prometheus endpoint: what a sevendigital_metrics location shows is
# read with the Prometheus Python client's own parser
# (t/lib/prometheus_parse.py), and its counters follow what the gateway
# does: a miss and a hit, refusals, a rate limit decided by Redis and then
# by the node alone, a sale and its replay, a sale in flight, Redis paused,
# answering errors, stopped and back; over two workers, whose counts add
# up; and across reloads that change the partners file.  (Test::More: the
# format of the other suites cannot stop Redis or reload between requests,
# nor hand an answer to a parser.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time sleep);

my $timeout = Gateway::scaled(0.3) * 1000;
my ($redis, $rport) = Gateway::start_redis();

# Gateway::redis() looks into the gateway's Redis
$ENV{TEST_NGINX_REDIS_PORT} = $rport;

my $tmp = tempdir('sevendigital-metrics-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $partners = "$tmp/partners.json";
my $fx = $ENV{TEST_NGINX_FIXTURES};

my %Partner = (
    acme => '{"id": "acme", "key": "acme-key-0001", "secret": "acme-secret-0001"}',
    umbrella => '{"id": "umbrella", "key": "umbrella-key-0004", "apis": ["choosedigital"]}',
    soylent => '{"id": "soylent", "key": "soylent-key-0006", "apis": ["7digital"],'
               . ' "limits": {"catalogue": {"rate": "1r/m", "burst": 1}}}',
    newco => '{"id": "newco", "key": "newco-key-0099", "apis": ["7digital"]}',
);

sub write_partners {
    open my $f, '>', "$partners.new" or die $!;
    print $f '{"partners": [' . join(",\n", map { $Partner{$_} } @_) . "]}\n";
    close $f;
    rename "$partners.new", $partners or die $!;
}

write_partners(qw(acme umbrella soylent));

my $port = Gateway::free_port();
my $hang = Gateway::free_port();
my $dir = Gateway::start_nginx('metrics', <<"CONF", port => $port,
    sevendigital_partners $partners;
    sevendigital_redis 127.0.0.1:$rport;
    sevendigital_redis_timeout ${timeout}ms;
    sevendigital_audit_log $ENV{TEST_NGINX_AUDIT_LOG};
    proxy_next_upstream off;
    server {
        listen 127.0.0.1:$port reuseport;
        # the metrics location is no gateway all the same
        sevendigital_gateway 7digital;
        sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
        location /1.2/ {
            sevendigital_cache on;
            sevendigital_cache_valid 200 5m;
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_7D_PORT};
        }
        location /music/ {
            sevendigital_gateway choosedigital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_CD_KEY};
            sevendigital_upstream_secret_file $fx/upstream-cd.secret;
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_CD_PORT};
        }
        location = /metrics {
            sevendigital_metrics;
        }
    }
    # a Choose Digital upstream that never answers: a sale stays in flight
    server {
        listen 127.0.0.1:$hang;
        location /music/ {
            sevendigital_gateway choosedigital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_CD_KEY};
            sevendigital_upstream_secret_file $fx/upstream-cd.secret;
            proxy_read_timeout 1h;
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_BLACKHOLE_PORT};
        }
    }
CONF
                                  workers => 2, log_level => 'notice');

END { Gateway::stop_nginx($dir) if $dir }

# The endpoint's answer, parsed by prometheus_client: the samples
# ("name{label=value,...}" => value); in list context also the families'
# types, the answer and the families' HELP texts.
sub scrape {
    my $r = Gateway::http_get($port, '/metrics');
    die "GET /metrics: $r->{status}\n" unless $r->{status} == 200;
    my $in = "$tmp/scrape.txt";
    open my $f, '>', $in or die $!;
    print $f $r->{body};
    close $f;
    my $json = `/usr/bin/python3 $FindBin::Bin/lib/prometheus_parse.py < $in`;
    die "prometheus_client could not parse /metrics\n" if $?;
    my $m = decode_json($json);
    return wantarray ? ($m->{samples}, $m->{types}, $r, $m->{help})
                     : $m->{samples};
}

# what a counter moved by between two scrapes (absent: 0)
sub delta {
    my ($before, $after, $key) = @_;
    return ($after->{$key} // 0) - ($before->{$key} // 0);
}

sub catalogue {
    my ($key, $id) = @_;
    return Gateway::http_get($port, "/1.2/release/details?releaseId=$id"
                                    . "&oauth_consumer_key=$key");
}

# a Choose Digital sale; $wait 0: sent, and the socket is returned unread
sub purchase {
    my ($to, $idem, $wait) = @_;
    my $body = 'cdin=CD0001&customerId=cust-1&customerCountryCode=us'
               . '&priceSold=100';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $to,
                                  Proto => 'tcp', Timeout => 10)
        or die "connect: $!";
    print $s "POST /music/purchase HTTP/1.1\r\nHost: localhost\r\n"
             . "cdaccesskeyid: umbrella-key-0004\r\n"
             . "Content-Type: application/x-www-form-urlencoded\r\n"
             . ($idem ? "Idempotency-Key: $idem\r\n" : '')
             . "Content-Length: " . length($body) . "\r\nConnection: close"
             . "\r\n\r\n$body";
    return $s if defined $wait && !$wait;
    local $/;
    my $res = <$s> // '';
    close $s;
    my ($status) = $res =~ m{^HTTP/1\.1 (\d+)};
    return $status // 0;
}

# scrapes until $cond holds of the samples or a scaled deadline passes
sub scrape_until {
    my ($cond, $seconds) = @_;
    my $deadline = time + Gateway::scaled($seconds // 10);
    my $m;
    while (1) {
        ($m) = scrape();
        return $m if $cond->($m) || time > $deadline;
        sleep 0.05;
    }
}

my $acme7 = 'sevendigital_requests_total{api=7digital,code=%s,partner=acme}';
my $none7 = 'sevendigital_requests_total{api=7digital,code=%s}';
my $umbrellacd = 'sevendigital_requests_total{api=choosedigital,code=%s,partner=umbrella}';
my $lat = 'sevendigital_redis_latency_seconds';


# 1. the format, the families and their types

my ($m0, $types, $r, $help) = scrape();
is($r->{headers}{'content-type'}, 'text/plain; version=0.0.4',
   'Content-Type: text/plain; version=0.0.4');
is_deeply($types, {
    sevendigital_requests => 'counter',
    sevendigital_rate_limited => 'counter',
    sevendigital_refusals => 'counter',
    sevendigital_cache_results => 'counter',
    sevendigital_cache_front_hits => 'counter',
    sevendigital_audit_records => 'counter',
    sevendigital_audit_record_failures => 'counter',
    sevendigital_sales_in_flight => 'gauge',
    sevendigital_idempotent_replays => 'counter',
    sevendigital_redis_commands => 'counter',
    sevendigital_redis_errors => 'counter',
    sevendigital_redis_timeouts => 'counter',
    sevendigital_redis_reconnects => 'counter',
    sevendigital_redis_skipped => 'counter',
    sevendigital_redis_latency_seconds => 'histogram',
}, 'prometheus_client parses every family, with its type');
ok(!grep({ !length } values %$help), '... each has its HELP');

ok(exists $m0->{sprintf $acme7, '2xx'}
   && exists $m0->{sprintf $umbrellacd, '5xx'}
   && exists $m0->{'sevendigital_rate_limited_total{decided_by=local,partner=soylent}'},
   'every partner of the file has its series, at zero from the start');
ok(!exists $m0->{'sevendigital_requests_total{api=7digital,code=2xx,partner=umbrella}'}
   && !exists $m0->{'sevendigital_requests_total{api=choosedigital,code=2xx,partner=soylent}'},
   '... for the APIs it may use only');
ok(exists $m0->{sprintf $none7, '4xx'},
   'requests of no partner have series without the label');
is(scalar(grep { /partner=/ && !/partner=(acme|umbrella|soylent)}/ } keys %$m0),
   0, 'no partner label comes from anywhere but the partners file');
is($m0->{'sevendigital_refusals_total{reason=BAD_SIGNATURE}'}, 0,
   'refusal reasons are $sevendigital_auth_status values');
is($m0->{'sevendigital_cache_results_total{result=UPDATING}'}, 0,
   'cache results are $sevendigital_cache_status values');
is($m0->{"${lat}_bucket{le=+Inf,target=state}"}, $m0->{"${lat}_count{target=state}"},
   'the histogram\'s +Inf bucket is its count');

my $post = do {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp') or die $!;
    print $s "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
             . "Connection: close\r\n\r\n";
    local $/;
    (<$s> // '') =~ m{^HTTP/1\.1 (\d+)} ? $1 : 0;
};
is($post, 405, 'POST /metrics: 405');


# 2. a miss, then a hit, counted once each, with their Redis commands;
# ten requests, so that both workers are likely to have counted some

my $m1 = scrape();
is(catalogue('acme-key-0001', 1001)->{status}, 200, 'a miss');
catalogue('acme-key-0001', 1001) for 1 .. 9;
my $m2 = scrape();
is(delta($m1, $m2, 'sevendigital_cache_results_total{result=MISS}'), 1,
   'one miss counted');
is(delta($m1, $m2, 'sevendigital_cache_results_total{result=HIT}'), 9,
   'nine hits counted');
is(delta($m1, $m2, sprintf $acme7, '2xx'), 10,
   'ten 2xx requests of acme on 7digital');
is(delta($m1, $m2, 'sevendigital_cache_front_hits_total{}'), 0,
   'no front tier hit: there is none yet');
cmp_ok(delta($m1, $m2, 'sevendigital_redis_commands_total{target=state}'),
       '>=', 10, 'at least a Redis command per request');
cmp_ok(delta($m1, $m2, "${lat}_count{target=state}"), '>=', 10,
       '... each one\'s latency observed');
ok($m2->{"${lat}_sum{target=state}"} > 0, '... their sum in seconds');
my @le = sort { $a <=> $b }
         map { /le=([\d.]+),/ ? $1 : () }
         grep { /^${lat}_bucket\{.*target=state/ } keys %$m2;
my @counts = map { $m2->{"${lat}_bucket{le=$_,target=state}"} } @le;
is_deeply([@counts], [sort { $a <=> $b } @counts],
          'the buckets are cumulative');
is($m2->{"${lat}_bucket{le=+Inf,target=state}"}, $m2->{"${lat}_count{target=state}"},
   '... up to the count');
is(delta($m1, $m2, 'sevendigital_redis_commands_total{target=cache}'), 0,
   'no cache Redis apart: every command is the state Redis\'s');


# 3. refusals, by reason, with no partner

$m1 = scrape();
is(catalogue('no-such-key', 1)->{status}, 401, 'an unknown key: 401');
is(Gateway::http_get($port, '/1.2/release/details?releaseId=1')->{status},
   401, 'no key: 401');
is(catalogue('umbrella-key-0004', 1)->{status}, 403,
   'a partner on an API it may not use: 403');
$m2 = scrape_until(sub { delta($m1, $_[0], sprintf $none7, '4xx') >= 3 });
is(delta($m1, $m2, 'sevendigital_refusals_total{reason=UNKNOWN}'), 1,
   'UNKNOWN counted');
is(delta($m1, $m2, 'sevendigital_refusals_total{reason=MISSING}'), 1,
   'MISSING counted');
is(delta($m1, $m2, 'sevendigital_refusals_total{reason=FORBIDDEN}'), 1,
   'FORBIDDEN counted');
is(delta($m1, $m2, sprintf $none7, '4xx'), 3,
   'the three under no partner: a refused key names nobody');
is(delta($m1, $m2, sprintf $acme7, '4xx'), 0, '... not acme');


# 4. a rate limit: decided by Redis, then by the node alone

$m1 = scrape();
my @st = map { catalogue('soylent-key-0006', 2000 + $_)->{status} } 1 .. 3;
is_deeply(\@st, [200, 200, 429], 'soylent: a burst of one, then 429');
$m2 = scrape_until(sub {
    delta($m1, $_[0],
          'sevendigital_requests_total{api=7digital,code=4xx,partner=soylent}')
    >= 1
});
is(delta($m1, $m2, 'sevendigital_rate_limited_total{decided_by=redis,partner=soylent}'),
   1, 'rate-limited by Redis, counted for soylent');
is(delta($m1, $m2, 'sevendigital_requests_total{api=7digital,code=4xx,partner=soylent}'),
   1, '... among its 4xx');


# 5. a sale, and its replay

$m1 = scrape();
is(purchase($port, 'm-0001'), 200, 'a sale with an idempotency key');
is(purchase($port, 'm-0001'), 200, 'its retry');
# records and counts are written as each request ends, perhaps a moment
# after its answer reached the client: read until they are all in
$m2 = scrape_until(sub {
    delta($m1, $_[0], 'sevendigital_audit_records_total{type=outcome}') >= 2
    && delta($m1, $_[0], sprintf $umbrellacd, '2xx') >= 2
});
is(delta($m1, $m2, 'sevendigital_audit_records_total{type=intent}'), 1,
   'one intent written');
is(delta($m1, $m2, 'sevendigital_audit_records_total{type=outcome}'), 2,
   'two outcomes: the sale\'s and the replay\'s');
is(delta($m1, $m2, 'sevendigital_idempotent_replays_total{}'), 1,
   'one idempotent replay');
is(delta($m1, $m2, sprintf $umbrellacd, '2xx'), 2, 'umbrella\'s two 2xx');
is($m2->{'sevendigital_sales_in_flight{}'}, 0, 'no sale in flight after');
is($m2->{'sevendigital_audit_record_failures_total{type=intent}'}, 0,
   'no record failed');


# 6. a sale in flight: its intent written, its upstream silent

my $client = purchase($hang, undef, 0);
my $m = scrape_until(sub { $_[0]{'sevendigital_sales_in_flight{}'} == 1 });
is($m->{'sevendigital_sales_in_flight{}'}, 1, 'a sale in flight: the gauge is 1');
close $client;
$m = scrape_until(sub { $_[0]{'sevendigital_sales_in_flight{}'} == 0 });
is($m->{'sevendigital_sales_in_flight{}'}, 0,
   'its client gone, its outcome written: 0 again');


# 7. Redis answering errors, paused, stopped and back

$m1 = scrape();
Gateway::redis('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
Gateway::redis('CONFIG', 'SET', 'maxmemory', '1');
is(catalogue('acme-key-0001', 3001)->{status}, 200,
   'Redis refusing writes (OOM): the miss is answered');
Gateway::redis('CONFIG', 'SET', 'maxmemory', '0');
$m2 = scrape();
cmp_ok(delta($m1, $m2, 'sevendigital_redis_errors_total{target=state}'),
       '>=', 1, 'the error replies counted');

$m1 = scrape();
kill 'STOP', $redis;
# each worker waits for Redis once at most: from the third request on, at
# least one is not sent to it
@st = map { catalogue('acme-key-0001', 3002)->{status} } 1 .. 3;
is_deeply(\@st, [200, 200, 200], 'Redis paused: answered without it');
$m2 = scrape();
kill 'CONT', $redis;
cmp_ok(delta($m1, $m2, 'sevendigital_redis_timeouts_total{target=state}'),
       '>=', 1, 'a timeout counted');
cmp_ok(delta($m1, $m2, 'sevendigital_redis_skipped_total{target=state}'),
       '>=', 1, 'then commands not sent, counted');
cmp_ok(delta($m1, $m2, 'sevendigital_cache_results_total{result=BYPASS}'),
       '>=', 1, 'the cache bypassed');

$m1 = scrape();
Gateway::stop_child($redis);
my @local = map { catalogue('soylent-key-0006', 4000 + $_)->{status} } 1 .. 3;
ok(grep({ $_ == 429 } @local), 'Redis stopped: the node\'s share of '
   . 'soylent\'s limit refuses') or diag("@local");
$m2 = scrape();
cmp_ok(delta($m1, $m2, 'sevendigital_rate_limited_total{decided_by=local,partner=soylent}'),
       '>=', 1, '... counted as decided locally');
is(delta($m1, $m2, 'sevendigital_rate_limited_total{decided_by=redis,partner=soylent}'),
   0, '... not by Redis');

($redis) = Gateway::start_redis($rport);
$m = scrape_until(sub {
    delta($m1, $_[0], 'sevendigital_redis_reconnects_total{target=state}') >= 1
}, 20);
cmp_ok(delta($m1, $m, 'sevendigital_redis_reconnects_total{target=state}'),
       '>=', 1, 'Redis back: the reconnection counted');


# 8. reloads: the counters go on; the partners are the file's

$m1 = scrape();
write_partners(qw(acme umbrella newco));
ok(Gateway::reload_nginx($dir), 'reloaded without soylent, with newco');
$m2 = scrape();
is($m2->{sprintf $acme7, '2xx'}, $m1->{sprintf $acme7, '2xx'},
   'acme\'s count goes on');
is($m2->{'sevendigital_refusals_total{reason=UNKNOWN}'},
   $m1->{'sevendigital_refusals_total{reason=UNKNOWN}'},
   '... as does every other counter');
ok(!grep({ /partner=soylent/ } keys %$m2), 'soylent is gone');
is($m2->{'sevendigital_requests_total{api=7digital,code=2xx,partner=newco}'},
   0, 'newco is there, at zero');
is(catalogue('newco-key-0099', 5001)->{status}, 200, 'newco\'s first request');
$m = scrape_until(sub {
    ($_[0]{'sevendigital_requests_total{api=7digital,code=2xx,partner=newco}'}
     // 0) >= 1
});
is($m->{'sevendigital_requests_total{api=7digital,code=2xx,partner=newco}'},
   1, '... counted as newco\'s');

write_partners(qw(acme umbrella soylent newco));
ok(Gateway::reload_nginx($dir), 'reloaded with soylent again');
$m = scrape();
is($m->{'sevendigital_rate_limited_total{decided_by=redis,partner=soylent}'},
   $m1->{'sevendigital_rate_limited_total{decided_by=redis,partner=soylent}'},
   'soylent\'s counters are back where they were');
is($m->{'sevendigital_requests_total{api=7digital,code=2xx,partner=newco}'},
   1, '... and newco keeps its own');

is(Gateway::log_count($dir, qr/\[(alert|crit|emerg)\]/), 0,
   'no alert in the error log');
Gateway::stop_nginx($dir);
$dir = undef;


# 9. the directives in nginx -t, and a zone too small for the partners

sub nginx_t { return Gateway::nginx_t($tmp, @_) }

my ($rc, $out) = nginx_t(<<'CONF');
    server {
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_metrics;
        }
    }
CONF
isnt($rc, 0, 'nginx -t: sevendigital_metrics in a gateway location fails');
like($out, qr/"sevendigital_metrics" cannot be used in a location with "sevendigital_gateway"/,
     '... and says why');

($rc, $out) = nginx_t("    sevendigital_metrics_zone metrics;\n");
like($out, qr/invalid zone "metrics" in "sevendigital_metrics_zone", write it as name:size/,
     'nginx -t: a zone without its size');

($rc, $out) = nginx_t("    sevendigital_metrics_zone m:1k;\n");
like($out, qr/zone "m:1k" in "sevendigital_metrics_zone" is too small, at least \d+ bytes are needed/,
     'nginx -t: a zone below 8 pages');

# 200 partners in the smallest zone, for two workers: a hundred or so fit
open my $f, '>', $partners or die $!;
print $f '{"partners": ['
         . join(",\n", map { qq({"id": "p$_", "key": "p-key-$_"}) } 0 .. 199)
         . "]}\n";
close $f;
$port = Gateway::free_port();
$dir = Gateway::start_nginx('metrics-small', <<"CONF", port => $port,
    sevendigital_partners $partners;
    sevendigital_metrics_zone small:32k;
    proxy_next_upstream off;
    server {
        listen 127.0.0.1:$port;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_7D_PORT};
        }
        location = /metrics {
            sevendigital_metrics;
        }
    }
CONF
                             workers => 2, log_level => 'notice');
my ($lost) = map { /has no room for (\d+) partners/ ? $1 : () }
             do { open my $l, '<', "$dir/logs/error.log"; <$l> };
ok($lost && $lost < 200, "a zone too small: ${\($lost // 0)} partners "
   . 'without a row, said in the error log');
$m = scrape();
ok(exists $m->{'sevendigital_requests_total{api=7digital,code=2xx,partner=p0}'}
   && !exists $m->{'sevendigital_requests_total{api=7digital,code=2xx,partner=p199}'},
   '... the first partners of the file have their rows, the last not');
$m1 = $m;
is(catalogue('p-key-199', 1)->{status}, 200, 'a partner without a row');
$m = scrape();
is(delta($m1, $m, sprintf $none7, '2xx'), 1, '... counted as no partner');
Gateway::stop_nginx($dir);
$dir = undef;

done_testing();
