# A real redis-server stopped, paused and restarted under a running
# gateway: every request is still answered, none waits much longer than
# the Redis timeout, each incident is logged once, and the worker
# reconnects by itself.  (Test::More: the format of the other suites has
# no way to stop Redis between two requests of one block.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use File::Path qw(make_path remove_tree);
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $nginx = $ENV{TEST_NGINX_BINARY};
my $module = (split ' ', $ENV{TEST_NGINX_LOAD_MODULES})[0];
my $fx = $ENV{TEST_NGINX_FIXTURES};
my $dir = "$Gateway::T/servroot-redis";
my $port = Gateway::free_port();

remove_tree($dir);
make_path("$dir/logs", "$dir/conf");

my ($redis, $rport) = Gateway::start_redis();

open my $fh, '>', "$dir/conf/nginx.conf" or die $!;
print $fh <<"CONF";
load_module $module;
daemon on;
master_process on;
worker_processes 1;
error_log $dir/logs/error.log info;
pid $dir/logs/nginx.pid;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path $dir;
    proxy_temp_path $dir;
    fastcgi_temp_path $dir;
    uwsgi_temp_path $dir;
    scgi_temp_path $dir;
    sevendigital_partners $fx/partners.json;
    sevendigital_redis 127.0.0.1:$rport;
    sevendigital_redis_timeout 100ms;
    server {
        listen 127.0.0.1:$port;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            sevendigital_cache on;
            add_header X-Cache-Status \$sevendigital_cache_status always;
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_7D_PORT};
        }
    }
}
CONF
close $fh;

system("$nginx -p $dir/ -c $dir/conf/nginx.conf -e $dir/logs/error.log") == 0
    or BAIL_OUT('nginx did not start');
Gateway::wait_port($port, 'nginx');

# one request: (status, cache status, seconds taken)
sub get {
    my $start = time;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 5)
        or return (0, '', time - $start);
    print $s "GET /1.2/release/details?releaseId=12345"
             . "&oauth_consumer_key=acme-key-0001 HTTP/1.1\r\n"
             . "Host: localhost\r\nConnection: close\r\n\r\n";
    local $/;
    my $res = <$s> // '';
    close $s;
    my ($status) = $res =~ m{^HTTP/1\.1 (\d+)};
    my ($cache) = $res =~ m{^X-Cache-Status: (\w+)}mi;
    return ($status // 0, $cache // '', time - $start);
}

sub log_count {
    my $re = shift;
    open my $l, '<', "$dir/logs/error.log" or return 0;
    my $n = grep { /$re/ } <$l>;
    close $l;
    return $n;
}

# poll with a deadline until a request is answered with the given status
sub until_cache {
    my ($want, $seconds) = @_;
    my $deadline = time + $seconds;
    my @r;
    while (time < $deadline) {
        @r = get();
        return @r if $r[1] eq $want;
        sleep 0.1;
    }
    return @r;
}

my @r = get();
is_deeply([@r[0, 1]], [200, 'MISS'], 'with Redis up: a miss');
@r = get();
is_deeply([@r[0, 1]], [200, 'HIT'], '... then a hit');

# stopped
Gateway::stop_child($redis);

for my $i (1 .. 3) {
    @r = get();
    is_deeply([@r[0, 1]], [200, 'BYPASS'], "Redis stopped: answered ($i)");
    cmp_ok($r[2], '<', 1, "... without waiting ($i)");
}

is(log_count(qr/redis unavailable/), 1, 'the incident is logged once');

# restarted on the same port: the worker reconnects by itself
($redis) = Gateway::start_redis($rport);

@r = until_cache('MISS', 10);
is_deeply([@r[0, 1]], [200, 'MISS'], 'Redis back: the worker reconnected');
@r = get();
is_deeply([@r[0, 1]], [200, 'HIT'], '... and caches again');
is(log_count(qr/redis is reachable again/), 1, 'the recovery is logged');

# paused: replies stop coming, requests are answered after the timeout
kill 'STOP', $redis;

for my $i (1 .. 4) {
    @r = get();
    is($r[0], 200, "Redis paused: answered ($i)");
    cmp_ok($r[2], '<', 1, "... within about the Redis timeout ($i)");
}

is(log_count(qr/redis did not answer within 100 ms/), 1,
   'the slowness is logged once');

kill 'CONT', $redis;

@r = until_cache('HIT', 10);
is_deeply([@r[0, 1]], [200, 'HIT'], 'Redis resumed: hits again');

# a graceful stop closes the Redis connection without alerts
my $pid = do { open my $p, '<', "$dir/logs/nginx.pid"; local $/; <$p> };
chomp $pid;
kill 'QUIT', $pid;
my $deadline = time + 10;
while (time < $deadline && kill 0, $pid) {
    open my $st, '<', "/proc/$pid/stat" or last;
    last if (<$st> // '') =~ /^\d+ \(.*\) [ZX] /;
    sleep 0.05;
}

is(log_count(qr/\[alert\]|\[crit\]|\[emerg\]/), 0,
   'no alert, crit or emerg in the whole log');

Gateway::stop_child($redis);
done_testing();
