# A request's life through the gateway when it goes wrong half-way: a body
# that breaks after reading started, or grows past the limit, is answered
# and its connection closed; a reload while a request waits on Redis lets
# it finish; nothing is left open at shutdown.  (Test::More: the body must
# arrive in two parts, and Redis must stop between two steps, which the
# data-driven format of both harnesses cannot do alike.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $port = Gateway::free_port();
my ($redis, $rport) = Gateway::start_redis();
my $timeout = Gateway::scaled(2);

my %opt = (port => $port, log_level => 'debug');
my $dir = Gateway::start_nginx('lifecycle', <<"CONF", %opt);
    sevendigital_partners $ENV{TEST_NGINX_FIXTURES}/partners.json;
    sevendigital_redis 127.0.0.1:$rport;
    sevendigital_redis_timeout ${timeout}s;
    server {
        listen 127.0.0.1:$port;
        client_max_body_size 64;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            sevendigital_cache on;
            add_header X-Cache-Status \$sevendigital_cache_status always;
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_7D_PORT};
        }
    }
CONF

# Sends the head and a first chunk, then (once nginx had time to start
# reading the body) the rest; returns the status and whether the server
# closed the connection before the deadline.
sub two_parts {
    my ($rest) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp')
        or die "connect: $!";
    syswrite $s, "POST /1.2/basket/add HTTP/1.1\r\nHost: localhost\r\n"
                 . "Content-Type: application/x-www-form-urlencoded\r\n"
                 . "Transfer-Encoding: chunked\r\n\r\n"
                 . "10\r\noauth_consumer_\r\n";
    # the middle delay of Test::Nginx's raw_request: if nginx had not read
    # the first part yet, the test passes without proving anything, it
    # never fails for it
    sleep 0.2;
    syswrite $s, $rest;
    my $sel = IO::Select->new($s);
    my ($data, $closed) = ('', 0);
    my $deadline = time + Gateway::scaled(5);
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread $s, my $buf, 65536;
        if (!$n) {
            $closed = 1;
            last;
        }
        $data .= $buf;
    }
    close $s;
    my ($status) = $data =~ m{^HTTP/1\.1 (\d+)};
    return ($status // 0, $closed);
}

my ($status, $closed) = two_parts("zz\r\nbroken\r\n");
is($status, 400, 'a broken chunk after reading started: 400');
ok($closed, '... and the connection is closed');

($status, $closed) = two_parts("80\r\n" . ('x' x 128) . "\r\n0\r\n\r\n");
is($status, 413, 'a body that grows past client_max_body_size: 413');
ok($closed, '... and the connection is closed');

# a reload while a request waits on Redis: the old worker lets it finish
my $target = '/1.2/release/details?releaseId=reload-1'
             . '&oauth_consumer_key=acme-key-0001';
is(Gateway::http_get($port, $target)->{status}, 200, 'Redis up: answered');

kill 'STOP', $redis;

pipe my $rd, my $wr or die $!;
my $child = fork;
die "fork: $!" unless defined $child;
if ($child == 0) {
    close $rd;
    my $r = Gateway::http_get($port, $target);
    print $wr "$r->{status} " . ($r->{headers}{'x-cache-status'} // '-') . "\n";
    close $wr;
    exit 0;
}
close $wr;

ok(Gateway::wait_log($dir, qr/waiting for \d+ redis replies/),
   'a request waits on a paused Redis');

kill 'HUP', Gateway::master_pid($dir);

ok(Gateway::wait_log($dir, qr/gracefully shutting down/),
   'reloaded: the old worker shuts down gracefully');

my $line = readline $rd;
waitpid $child, 0;
like($line // '', qr/^200 BYPASS$/,
     '... and the waiting request still gets its answer, without the cache');

kill 'CONT', $redis;

Gateway::stop_nginx($dir);

is(Gateway::log_count($dir, qr/open socket|\[alert\]|aborting/), 0,
   'nothing left open at reload or shutdown, no alert');

Gateway::stop_child($redis);

done_testing();
