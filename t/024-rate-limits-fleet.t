# Rate limits across a fleet: two gateways sharing one Redis share one
# budget per partner; GCRA's arithmetic checked step by step by moving the
# partner's theoretical arrival time in Redis (a clock the test controls,
# so nothing depends on how fast the machine is); Redis stopped, started
# again and paused under the gateways; a limit changed in the partners
# file and reloaded.  (Test::More: the format of the other suites has no
# way to run two gateways or stop Redis between two requests.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use File::Temp qw(tempdir);
use Time::HiRes qw(time sleep);

my $minute = 60_000_000;    # one request a minute, in microseconds
# a lease no request here outlives, however slow the machine
my $lease = Gateway::scaled(60);
my $timeout = Gateway::scaled(0.3) * 1000;
my $bound = Gateway::scaled(1);
my ($redis, $rport) = Gateway::start_redis();

# Gateway::redis() looks into the gateways' Redis
$ENV{TEST_NGINX_REDIS_PORT} = $rport;

my $tmp = tempdir('sevendigital-limits-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $partners = "$tmp/partners.json";

# acme and globex: 10 a minute at once, then one a minute; soylent: 3
sub write_partners {
    my $acme_burst = shift;
    open my $f, '>', "$partners.new" or die $!;
    print $f <<"JSON";
{"partners": [
  {"id": "acme", "key": "acme-key-0001",
   "limits": {"catalogue": {"rate": "1r/m", "burst": $acme_burst}}},
  {"id": "globex", "key": "globex-key-0002",
   "limits": {"catalogue": {"rate": "1r/m", "burst": 9}}},
  {"id": "soylent", "key": "soylent-key-0006",
   "limits": {"catalogue": {"rate": "1r/m", "burst": 2}}},
  {"id": "umbrella", "key": "umbrella-key-0004",
   "limits": {"catalogue": {"rate": "1r/m", "burst": 999}}},
  {"id": "hooli", "key": "hooli-key-0005"}
]}
JSON
    close $f;
    rename "$partners.new", $partners or die $!;
}

write_partners(9);

sub gateway {
    my $name = shift;
    my $port = Gateway::free_port();
    my $dir = Gateway::start_nginx($name, <<"CONF", port => $port,
    sevendigital_partners $partners;
    sevendigital_redis 127.0.0.1:$rport;
    sevendigital_redis_timeout ${timeout}ms;
    sevendigital_rate_limit_zone limits:1m nodes=2 lease=${lease}s;
    sevendigital_audit_log off;
    proxy_next_upstream off;
    server {
        listen 127.0.0.1:$port;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            sevendigital_rate_limit catalogue rate=100r/s burst=10000;
            sevendigital_rate_limit_headers always;
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_7D_PORT};
        }
    }
CONF
                                   log_level => 'notice');
    return { port => $port, dir => $dir };
}

my $A = gateway('fleet-a');
my $B = gateway('fleet-b');

sub get {
    my ($node, $key) = @_;
    return Gateway::http_get($node->{port},
                             "/1.2/release/details?releaseId=1"
                             . "&oauth_consumer_key=$key");
}

# how many of n requests, alternating between the nodes, were let through
sub allowed {
    my ($key, $n, @nodes) = @_;
    my $ok = 0;
    for my $i (0 .. $n - 1) {
        my $r = get($nodes[$i % @nodes], $key);
        $ok++ if $r->{status} == 200;
        die "unexpected status $r->{status}\n"
            unless $r->{status} == 200 || $r->{status} == 429;
    }
    return $ok;
}

# GCRA's allowance since $start: the burst, and one more a minute
sub expected {
    my ($burst, $start) = @_;
    return $burst + 1 + int((time - $start) / 60);
}

my $tat = 'sevendigital:rl:catalogue';

# 1. one budget for the fleet
my $start = time;
is(allowed('acme-key-0001', 20, $A, $B), expected(9, $start),
   'two gateways, one Redis: the partner gets its limit once, not twice');
$start = time;
is(allowed('globex-key-0002', 12, $A), expected(9, $start),
   'a second partner has its own budget');

my $r = get($B, 'acme-key-0001');
is($r->{status}, 429, 'over the limit: 429');
is($r->{headers}{'retry-after'}, 60, '... Retry-After: one interval');
is($r->{headers}{'ratelimit-policy'}, '"catalogue";q=10;w=600',
   '... RateLimit-Policy: the burst over the time to earn it back');
like($r->{headers}{'ratelimit'}, qr/^"catalogue";r=0;t=(59\d|600)$/,
     '... RateLimit: nothing left, whole again in ten minutes');

# 2. GCRA step by step, the clock moved in Redis
is(allowed('soylent-key-0006', 5, $A, $B), 3, 'burst 2: three at once');
Gateway::redis('DECRBY', "$tat:soylent", $minute);
is(allowed('soylent-key-0006', 3, $A, $B), 1,
   'a minute later: exactly one more');
Gateway::redis('DECRBY', "$tat:soylent", 2 * $minute);
is(allowed('soylent-key-0006', 4, $B, $A), 2, 'two minutes later: two');
Gateway::redis('DECRBY', "$tat:soylent", $minute / 2);
is(allowed('soylent-key-0006', 2, $A), 0, 'half a minute: none');
Gateway::redis('DECRBY', "$tat:soylent", $minute / 2);
is(allowed('soylent-key-0006', 2, $A), 1, '... and the other half: one');

# a busy partner with plenty left: a node takes several at once (at most
# an eighth of what is left, shared by the two nodes, and twice what it
# let through since it last asked, and one) and spends them itself
sub umbrella_tat { return Gateway::redis('GET', "$tat:umbrella") }

$r = get($A, 'umbrella-key-0004');
my $t1 = umbrella_tat();
is($r->{headers}{'ratelimit'}, '"catalogue";r=999;t=60',
   'plenty left: the first request is counted alone');
$r = get($A, 'umbrella-key-0004');
cmp_ok(umbrella_tat() - $t1, '==', 3 * $minute,
       '... the next takes three from Redis (twice one, and one)');
is($r->{headers}{'ratelimit'}, '"catalogue";r=998;t=120',
   '... and tells what GCRA would');
my $t2 = umbrella_tat();
for my $left (997, 996) {
    $r = get($A, 'umbrella-key-0004');
    is($r->{headers}{'ratelimit'}, qq{"catalogue";r=$left;t=} . (1000 - $left) * 60,
       "the node's lease lets one through ($left left)");
}
is(umbrella_tat(), $t2, '... without Redis');
$r = get($A, 'umbrella-key-0004');
cmp_ok(umbrella_tat() - $t2, '==', 7 * $minute,
       'the lease spent, the node asks for twice as many and one');
$r = get($B, 'umbrella-key-0004');
cmp_ok(umbrella_tat() - $t2, '==', 8 * $minute,
       'the other node has no lease yet: it asks for one');

# Redis lost the script (restarted, or flushed): EVAL in the same wait
Gateway::redis('SCRIPT', 'FLUSH');
Gateway::redis('DECRBY', "$tat:soylent", $minute);
my $before = Gateway::redis('GET', "$tat:soylent");
$r = get($B, 'soylent-key-0006');
is($r->{status}, 200, 'NOSCRIPT: the script is sent again, the request '
                      . 'answered');
cmp_ok(Gateway::redis('GET', "$tat:soylent") - $before, '==', $minute,
       '... and counted in Redis');
is(Gateway::log_count($A->{dir}, qr/redis cannot count/)
   + Gateway::log_count($B->{dir}, qr/redis cannot count/), 0,
   '... without falling back to the node\'s share');

# 3. Redis stopped: each node enforces its share, 1/2 of the limit
Gateway::stop_child($redis);

my @slow;
my $ok = 0;
for my $i (1 .. 8) {
    my $t0 = time;
    my $s = get($A, 'acme-key-0001');
    push @slow, time - $t0 if time - $t0 >= $bound;
    $ok++ if $s->{status} == 200;
}
is($ok, 5, 'Redis stopped: node A lets through its share (burst 9 / 2 = 4,'
           . ' and one)');
is(scalar @slow, 0, '... no request waited');
$r = get($A, 'acme-key-0001');
is($r->{headers}{'ratelimit-policy'}, '"catalogue";q=5;w=600',
   '... and says so: half the burst, at half the rate');
is(Gateway::log_count($A->{dir}, qr/redis cannot count rate limits \(\w[^)]*\), this node allows 1\/2 of each limit/),
   1, '... logged once for the incident');

# 4. Redis back on the same port: counted in Redis again
($redis) = Gateway::start_redis($rport);

# hooli's policy tells which counted it: q=10001 in Redis, 5001 on a node
for my $node ($A, $B) {
    my $deadline = time + Gateway::scaled(10);
    my $policy = '';
    while (time < $deadline) {
        $policy = get($node, 'hooli-key-0005')->{headers}{'ratelimit-policy'}
                  // '';
        last if $policy eq '"catalogue";q=10001;w=101';
        sleep 0.1;
    }
    is($policy, '"catalogue";q=10001;w=101',
       "Redis back: node $node->{dir} counts in Redis again");
}
is(Gateway::log_count($A->{dir}, qr/rate limits counted in redis again/), 1,
   '... said once');
$start = time;
is(allowed('acme-key-0001', 14, $A, $B), expected(9, $start),
   '... and the fleet shares one budget again');

# 5. Redis paused: nobody waits longer than the Redis timeout
kill 'STOP', $redis;
@slow = ();
$ok = 0;
for my $i (1 .. 8) {
    my $t0 = time;
    my $s = get($B, 'globex-key-0002');
    push @slow, time - $t0 if time - $t0 >= $bound;
    $ok++ if $s->{status} == 200;
}
kill 'CONT', $redis;
is(scalar @slow, 0, 'Redis paused: every request answered within the '
                    . 'timeout');
is($ok, 5, '... the node\'s share of the limit applied');

# 6. a limit changed in the partners file takes effect on reload: once the
# workers that read the old file are gone, every answer has the new limit
write_partners(2);
ok(Gateway::reload_nginx($A->{dir}), 'reloaded: the old workers are gone');
Gateway::redis('DEL', "$tat:acme");
$r = get($A, 'acme-key-0001');
is($r->{headers}{'ratelimit-policy'}, '"catalogue";q=3;w=180',
   '... the new limit is in force');
is(allowed('acme-key-0001', 5, $A), 2, '... and enforced');

Gateway::stop_nginx($_->{dir}) for $A, $B;

for my $node ($A, $B) {
    is(Gateway::log_count($node->{dir}, qr/\[alert\]|\[crit\]|\[emerg\]/),
       0, "$node->{dir}: no alert, crit or emerg");
}

done_testing();
