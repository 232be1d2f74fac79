package Gateway;

# Shared set-up for the suites: where the module and the fixtures are, and
# the services the gateway talks to.  Load it *before* Test::Nginx::Socket:
#
#     use FindBin;
#     use lib "$FindBin::Bin/lib";
#     use Gateway;
#     use Test::Nginx::Socket;
#
# Services: when TEST_NGINX_REDIS_PORT, TEST_NGINX_MOCK_7D_PORT or
# TEST_NGINX_MOCK_CD_PORT is not set, the matching service (redis-server,
# the mock 7digital or Choose Digital upstream) is started on a free
# loopback port for this file and stopped when it ends.

use strict;
use warnings;

use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha1 sha256_hex hmac_sha256_hex);
use MIME::Base64 qw(encode_base64);
use POSIX qw(strftime);
use File::Basename qw(dirname);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

our $T;
our $Root;
my @Children;
my $Owner = $$;

BEGIN {
    $T = abs_path(dirname(__FILE__) . '/..');
    $Root = abs_path("$T/..");

    # our runner only when no real Test::Nginx is on the path
    push @INC, "$T/harness";
}

# AddressSanitizer and UBSan (make asan): the instrumented module, in
# Debian's nginx started by t/lib/sanitized-nginx with clang's sanitizer
# runtime (both sanitizers); reports go to one directory for the whole run
# (workers run as nobody: anyone may write there), and each one fails the
# test that stops that nginx (sanitizer_findings below).
if ($ENV{TEST_NGINX_USE_ASAN}) {
    $ENV{TEST_NGINX_ASAN_PRELOAD} ||= do {
        my $lib = `clang -print-file-name=libclang_rt.asan-x86_64.so`;
        chomp $lib;
        abs_path($lib);
    };
    $ENV{TEST_NGINX_ASAN_NGINX} ||= $ENV{TEST_NGINX_BINARY}
                                    || '/usr/sbin/nginx';
    $ENV{TEST_NGINX_BINARY} = "$T/lib/sanitized-nginx";
    $ENV{TEST_NGINX_LOAD_MODULES} //=
        "$Root/build/asan/ngx_http_7digital_module.so";
    $ENV{TEST_NGINX_ASAN_REPORTS} ||= "$Root/build/asan/reports";
    require File::Path;
    File::Path::make_path($ENV{TEST_NGINX_ASAN_REPORTS});
    chmod 01777, $ENV{TEST_NGINX_ASAN_REPORTS};
}

$ENV{TEST_NGINX_BINARY} ||= '/usr/sbin/nginx';
$ENV{TEST_NGINX_LOAD_MODULES} //=
    "$Root/build/ngx_http_7digital_module.so";
$ENV{TEST_NGINX_FIXTURES} ||= "$T/fixtures";
$ENV{TEST_NGINX_UPSTREAM_7D_KEY} ||= 'gateway-7d-consumer-key';
$ENV{TEST_NGINX_UPSTREAM_CD_KEY} ||= 'gateway-cd-access-key';
$ENV{TEST_NGINX_SERVROOT} ||= "$T/servroot";

# the purchase audit trail the suites' gateways write and the mocks read
# (a sale reaches a mock only with its intent already in it)
$ENV{TEST_NGINX_AUDIT_LOG} ||= do {
    require File::Temp;
    File::Temp::tempdir('sevendigital-audit-XXXXXX', TMPDIR => 1,
                        CLEANUP => 1) . '/audit.log';
};

# Every nginx the suites start also logs, at info, to one place for the
# whole run, its access log in nginx's "combined" format ($request and
# all): t/999-no-credentials.t then looks there for every partner key and
# secret.  (Test::Nginx applies $Test::Nginx::Util::FilterHttpConfig to
# every block's http_config; start_nginx below does the same.)
$ENV{TEST_NGINX_SUITE_LOGS} ||= "$T/servroot-suite-logs";
mkdir $ENV{TEST_NGINX_SUITE_LOGS} unless -d $ENV{TEST_NGINX_SUITE_LOGS};

# An error_log in http{} replaces, for http, the one of the main level:
# the server's own log is named again, with the level it has there.
sub suite_logs {
    my ($http, $own, $level) = @_;
    $http //= '';
    $own //= "$ENV{TEST_NGINX_SERVROOT}/logs/error.log";
    # a block that asks for credentials in its logs gets them, there only
    return $http if $http =~ /sevendigital_log_credentials\s+on/;
    return $http . "\n    access_log $ENV{TEST_NGINX_SUITE_LOGS}/access.log;"
                 . "\n    error_log $own "
                 . ($level // $ENV{TEST_NGINX_LOG_LEVEL} // 'debug') . ';'
                 . "\n    error_log $ENV{TEST_NGINX_SUITE_LOGS}/error.log info;\n";
}

$Test::Nginx::Util::FilterHttpConfig = sub { suite_logs($_[0]) };

# How much slower than natively nginx runs here: 1, 2 with the module
# built with the sanitizers, 10 under valgrind's memcheck.  Every wait the
# suites give the module (the Redis timeout) and every bound they assert
# on a duration is multiplied by it, so that no assertion depends on how
# fast the machine is.  docs/testing.md.
$ENV{TEST_NGINX_TIME_SCALE} ||= $ENV{TEST_NGINX_USE_VALGRIND} ? 10
                              : $ENV{TEST_NGINX_USE_ASAN} ? 2 : 1;

# the harness's wait for a response (3 s by default)
$ENV{TEST_NGINX_TIMEOUT} ||= scaled(3) if $ENV{TEST_NGINX_TIME_SCALE} > 1;

# sevendigital_redis_timeout for blocks that test something else than a
# slow Redis: far above what a loaded machine needs, so that a cold worker
# never falls back to "Redis unavailable" by accident
$ENV{TEST_NGINX_REDIS_TIMEOUT} ||=
    scaled(1) * 1000 . 'ms';

# a duration in seconds, scaled
sub scaled {
    my $seconds = shift;
    return $seconds * $ENV{TEST_NGINX_TIME_SCALE};
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub wait_port {
    my ($port, $what) = @_;
    my $deadline = time + 10;
    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp');
        if ($s) {
            close $s;
            return;
        }
        sleep 0.05;
    }
    die "$what did not start listening on 127.0.0.1:$port\n";
}

sub spawn {
    my ($what, $port, @cmd) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null' unless $ENV{TEST_GATEWAY_VERBOSE};
        exec @cmd or die "exec $cmd[0]: $!";
    }
    push @Children, $pid;
    wait_port($port, $what);
}

# A TCP server that accepts connections and never answers: a Redis that
# hangs (TEST_NGINX_BLACKHOLE_PORT).
sub start_blackhole {
    my $port = free_port();
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                        LocalPort => $port, Listen => 64,
                                        ReuseAddr => 1) or exit 1;
        my @held;
        while (my $c = $srv->accept) {
            push @held, $c;
        }
        exit 0;
    }
    push @Children, $pid;
    wait_port($port, 'blackhole');
    $ENV{TEST_NGINX_BLACKHOLE_PORT} = $port;
}

# One Redis command over RESP, for tests that look into or plant data:
# a string, an integer, or a status line as it came ("+OK", "-ERR ...").
sub redis {
    return redis_at($ENV{TEST_NGINX_REDIS_PORT}, @_);
}

# the same, to the Redis on $port (a test's own, see start_redis)
sub redis_at {
    my ($port, @args) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $port,
                                  Proto => 'tcp')
        or die "redis: $!";
    print $s '*' . scalar(@args) . "\r\n"
             . join('', map { '$' . length($_) . "\r\n$_\r\n" } @args);
    my $line = <$s>;
    if ($line =~ /^\$(-?\d+)/) {
        my $n = $1;
        return undef if $n < 0;
        read $s, my $data, $n + 2;
        $line = substr($data, 0, $n);
    } else {
        $line =~ s/\r\n$//;
        $line =~ s/^://;    # an integer
    }
    close $s;
    return $line;
}

# Plants in Redis the nonce of signed request $id, as another gateway node
# that had seen it would; returns that request.
sub plant_nonce {
    my ($id, $partner) = @_;
    my $r = oauth_request($id);
    my ($nonce) = $r->{headers} =~ /oauth_nonce="([^"]+)"/;
    my ($ts) = $r->{headers} =~ /oauth_timestamp="(\d+)"/;
    redis('SET', nonce_key($partner, $ts, $nonce), '1', 'EX', '600');
    return $r;
}

# The cache key of a request, computed here independently of the module:
# SHA-256 of "api\npath\nformat\n" and the sorted, RFC 3986-encoded
# parameters, each followed by "&".
sub cache_key {
    my ($api, $path, $format, @params) = @_;
    my @pairs;
    while (@params) {
        my ($n, $v) = splice @params, 0, 2;
        push @pairs, [rfc3986($n), rfc3986($v)];
    }
    @pairs = sort { $a->[0] cmp $b->[0] || $a->[1] cmp $b->[1] } @pairs;
    my $canon = "$api\n" . rfc3986($path) . "\n$format\n"
                . join('', map { "$_->[0]=$_->[1]&" } @pairs);
    return 'sevendigital:cache:' . sha256_hex($canon);
}

# Stores a cache entry as another node would have: "7DC2", status,
# stored, fresh until, stale until (seconds from now), the generation of
# its purge scopes (0: nothing purged), headers, body.
sub plant_entry {
    my ($key, %e) = @_;
    my $now = time;
    my $bytes = '7DC2' . pack('n', $e{status} // 200)
                . pack('Q>', $now + ($e{stored} // -600))
                . pack('Q>', $now + $e{fresh})
                . pack('Q>', $now + $e{stale})
                . pack('Q>', $e{generation} // 0)
                . pack('C', 1)
                . pack('n', 12) . 'Content-Type'
                . pack('n', length $e{type}) . $e{type}
                . $e{body};
    redis('SET', $key, $bytes, 'EX', '3600');
    return $key;
}

# the Redis key of a 7digital nonce, as the module names it
sub nonce_key {
    my ($partner, $ts, $nonce) = @_;
    return 'sevendigital:nonce:'
           . hmac_sha256_hex("$partner\n$ts\n$nonce", 'sevendigital-nonce');
}

# A redis-server of the test's own, to stop, pause and restart; more
# arguments go to redis-server ("--maxmemory", "2mb", ...).
sub start_redis {
    my ($port, @extra) = @_;
    $port //= free_port();
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        exec '/usr/bin/redis-server', '--port', $port, '--bind', '127.0.0.1',
             '--save', '', '--appendonly', 'no', '--daemonize', 'no',
             '--loglevel', 'warning', @extra
            or die "exec redis-server: $!";
    }
    push @Children, $pid;
    wait_port($port, 'redis-server');
    return ($pid, $port);
}

sub stop_child {
    my $pid = shift;
    kill 'TERM', $pid;
    waitpid $pid, 0;
    @Children = grep { $_ != $pid } @Children;
}

# An nginx of the test's own (for suites that must act between requests):
# master and workers, the module loaded, the given http{} contents.
# Returns its prefix; stop_nginx($prefix) stops it gracefully.
sub start_nginx {
    my ($name, $http, %opt) = @_;
    require File::Path;
    my $dir = "$T/servroot-$name";
    File::Path::remove_tree($dir);
    File::Path::make_path("$dir/logs", "$dir/conf");
    my $module = (split ' ', $ENV{TEST_NGINX_LOAD_MODULES})[0];
    my $workers = $opt{workers} // 1;
    my $level = $opt{log_level} // 'info';
    my $connections = $opt{connections} // 256;
    open my $fh, '>', "$dir/conf/nginx.conf" or die $!;
    print $fh <<"CONF";
load_module $module;
daemon on;
master_process on;
worker_processes $workers;
error_log $dir/logs/error.log $level;
pid $dir/logs/nginx.pid;
events { worker_connections $connections; }
http {
    access_log off;
    client_body_temp_path $dir;
    proxy_temp_path $dir;
    fastcgi_temp_path $dir;
    uwsgi_temp_path $dir;
    scgi_temp_path $dir;
@{[ suite_logs($http, "$dir/logs/error.log", $level) ]}
}
CONF
    close $fh;
    my $cmd = "$ENV{TEST_NGINX_BINARY} -p $dir/ -c $dir/conf/nginx.conf"
              . " -e $dir/logs/error.log";
    # the same memcheck as the harness's (t/harness/Test/Nginx/Socket.pm)
    $cmd = "valgrind -q --tool=memcheck --trace-children=yes"
           . " --leak-check=full --show-leak-kinds=definite --num-callers=30"
           . " --log-file=$dir/logs/valgrind.%p.log $cmd"
        if $ENV{TEST_NGINX_USE_VALGRIND};
    system($cmd) == 0 or die "nginx did not start\n";
    wait_port($opt{port}, 'nginx') if $opt{port};
    return $dir;
}

# The sanitizer reports written since the last call, in any test file of
# the run: each is renamed *.reported once returned, so that it fails one
# test only (and `make asan` still finds it at the end).
sub sanitizer_findings {
    my @found;
    return @found unless $ENV{TEST_NGINX_USE_ASAN};
    for my $file (sort glob "$ENV{TEST_NGINX_ASAN_REPORTS}/report.*") {
        next if $file =~ /\.reported$/;
        open my $fh, '<', $file or next;
        push @found, do { local $/; <$fh> };
        close $fh;
        rename $file, "$file.reported";
    }
    return @found;
}

# memcheck's findings in a prefix's logs: invalid accesses, and leaks
# whose allocation passed through this module
sub valgrind_findings {
    my $dir = shift;
    my @found;
    for my $file (glob "$dir/logs/valgrind.*.log") {
        open my $fh, '<', $file or next;
        my $text = do { local $/; <$fh> };
        close $fh;
        for my $rec (split /\n==\d+== \n/, $text) {
            next unless $rec =~ /Invalid (?:read|write|free)|uninitialised|Mismatched free|definitely lost/;
            next if $rec =~ /definitely lost/ && $rec !~ /ngx_http_7digital/;
            push @found, $rec;
        }
    }
    return @found;
}

# the master process of a prefix's nginx
sub master_pid {
    my $dir = shift;
    open my $p, '<', "$dir/logs/nginx.pid" or return undef;
    my $pid = <$p>;
    close $p;
    chomp $pid if defined $pid;
    return $pid;
}

# "nginx -s reload" for a prefix's nginx, waited for until the workers
# that read the old configuration are gone; true when they are
sub reload_nginx {
    my $dir = shift;
    my $master = master_pid($dir) or return 0;
    my @old = grep { /^\d+$/ } split /\s+/, `ps -o pid= --ppid $master`;
    kill 'HUP', $master;
    my $deadline = time + scaled(20);
    while (time < $deadline && grep { kill 0, $_ } @old) {
        sleep 0.05;
    }
    return !(grep { kill 0, $_ } @old);
}

sub stop_nginx {
    my $dir = shift;
    my $pid = master_pid($dir) or return;
    kill 'QUIT', $pid;
    my $deadline = time + scaled(10);
    while (time < $deadline && kill 0, $pid) {
        open my $st, '<', "/proc/$pid/stat" or last;
        last if (<$st> // '') =~ /^\d+ \(.*\) [ZX] /;
        sleep 0.05;
    }
    if ($ENV{TEST_NGINX_USE_ASAN}) {
        my @reports = sanitizer_findings();
        Test::More::ok(!@reports, "$dir: no sanitizer report")
            or Test::More::diag(join "\n",
                                @reports[0 .. ($#reports > 2 ? 2 : $#reports)]);
    }
    return unless $ENV{TEST_NGINX_USE_VALGRIND};
    # workers exit before the master: once it is gone, all logs are written
    my @found = valgrind_findings($dir);
    Test::More::ok(!@found, "$dir: valgrind found nothing")
        or Test::More::diag(join "\n\n", @found[0 .. ($#found > 2 ? 2 : $#found)]);
}

# waits, up to a scaled deadline, until a log has a line matching a pattern
sub wait_log {
    my ($dir, $re, $seconds) = @_;
    my $deadline = time + scaled($seconds // 10);
    while (time < $deadline) {
        return 1 if log_count($dir, $re);
        sleep 0.02;
    }
    return 0;
}

# lines of a log matching a pattern
sub log_count {
    my ($dir, $re) = @_;
    open my $l, '<', "$dir/logs/error.log" or return 0;
    my $n = grep { /$re/ } <$l>;
    close $l;
    return $n;
}

# One HTTP/1.1 request; returns a hash: status, headers (lower-cased
# names), body, seconds.
sub http_get {
    my ($port, $target, %headers) = @_;
    my $start = time;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or return { status => 0, headers => {}, body => '',
                    seconds => time - $start };
    print $s "GET $target HTTP/1.1\r\nHost: localhost\r\n"
             . join('', map { "$_: $headers{$_}\r\n" } sort keys %headers)
             . "Connection: close\r\n\r\n";
    local $/;
    my $res = <$s> // '';
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $res, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.1 (\d+)};
    my %h;
    for (split /\r\n/, $head // '') {
        $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
    }
    return { status => $status // 0, headers => \%h, body => $body // '',
             seconds => time - $start };
}

# As http_get, but "seconds" is when the body was complete by its
# Content-Length, as a client would see it, and "closed" when the server
# closed the connection (it may keep working for the request after).
sub http_fetch {
    my ($port, $target) = @_;
    my $start = time;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 10)
        or return { status => 0, headers => {}, body => '' };
    print $s "GET $target HTTP/1.1\r\nHost: localhost\r\n"
             . "Connection: close\r\n\r\n";
    my ($buf, $head, %h, $done) = ('');
    while (sysread $s, $buf, 65536, length $buf) {
        if (!defined $head && $buf =~ /\r\n\r\n/) {
            ($head, $buf) = split /\r\n\r\n/, $buf, 2;
            for (split /\r\n/, $head) {
                $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/;
            }
        }
        if (defined $head && !defined $done
            && length($buf) >= ($h{'content-length'} // 0))
        {
            $done = time - $start;
        }
    }
    close $s;
    my ($status) = ($head // '') =~ m{^HTTP/1\.1 (\d+)};
    return { status => $status // 0, headers => \%h, body => $buf,
             seconds => $done // time - $start, closed => time - $start };
}

# The mock's count of requests to $path, through the gateway on $port.
sub mock_count {
    my ($port, $path) = @_;
    return http_get($port, "/__mock/count?path=$path")->{body} + 0;
}

# A block with a "--- same_nginx" section continues the block before it:
# the preprocessors give it no config, so that under either harness it runs
# against the nginx that block started, whose log its first check reads
# from the start.  For what must happen in one nginx but be checked apart
# (a line logged once per incident, a replay of an earlier request).
sub same_nginx {
    my $block = shift;
    return defined $block->{same_nginx};
}

# nginx -t on a configuration of its own in $dir, whose http block holds
# $http and the module: (exit status, what it printed)
sub nginx_t {
    my ($dir, $http) = @_;
    my $module = (split ' ', $ENV{TEST_NGINX_LOAD_MODULES})[0];
    open my $f, '>', "$dir/nginx.conf" or die $!;
    print $f "load_module $module;\nerror_log $dir/error.log;\n"
             . "pid $dir/nginx.pid;\nevents {}\nhttp {\n    access_log off;\n"
             . "$http\n}\n";
    close $f;
    my $out = `$ENV{TEST_NGINX_BINARY} -t -p $dir/ -c $dir/nginx.conf -e $dir/error.log 2>&1`;
    return ($? >> 8, $out);
}

# For data-driven suites: $location goes ahead of every block's config,
# and $http becomes the http_config of blocks that bring none.
sub prepend_config {
    my ($location, $http) = @_;
    main::add_block_preprocessor(sub {
        my $block = shift;
        return if Gateway::same_nginx($block);
        my $config = $block->{config} ? $block->{config}[0] : '';
        $block->set_value('config', $location . $config);
        $block->set_value('http_config', $http)
            if defined $http && !defined $block->{http_config};
    });
}

sub start_services {
    if (!$ENV{TEST_NGINX_REDIS_PORT}) {
        my $port = free_port();
        spawn('redis-server', $port, '/usr/bin/redis-server',
              '--port', $port, '--bind', '127.0.0.1', '--save', '',
              '--appendonly', 'no', '--daemonize', 'no',
              '--loglevel', 'warning');
        $ENV{TEST_NGINX_REDIS_PORT} = $port;
    }

    start_blackhole() unless $ENV{TEST_NGINX_BLACKHOLE_PORT};

    my %mocks = (
        '7D' => ['7digital', 'upstream-7d.secret',
                 $ENV{TEST_NGINX_UPSTREAM_7D_KEY}],
        'CD' => ['choosedigital', 'upstream-cd.secret',
                 $ENV{TEST_NGINX_UPSTREAM_CD_KEY}],
    );

    for my $m (sort keys %mocks) {
        next if $ENV{"TEST_NGINX_MOCK_${m}_PORT"};
        my ($api, $secret, $key) = @{$mocks{$m}};
        my $port = free_port();
        spawn("mock $api", $port, '/usr/bin/python3',
              "$T/mock/mock_upstream.py", '--api', $api, '--port', $port,
              '--consumer-key', $key,
              '--consumer-secret-file', "$ENV{TEST_NGINX_FIXTURES}/$secret",
              '--partners', "$ENV{TEST_NGINX_FIXTURES}/partners.json",
              '--audit-file', $ENV{TEST_NGINX_AUDIT_LOG});
        $ENV{"TEST_NGINX_MOCK_${m}_PORT"} = $port;
    }
}

sub stop_services {
    return unless $$ == $Owner;
    kill 'TERM', @Children;
    my $deadline = time + 5;
    while (@Children && time < $deadline) {
        @Children = grep { waitpid($_, WNOHANG) == 0 } @Children;
        sleep 0.02 if @Children;
    }
    kill 'KILL', @Children;
    @Children = ();
}

END {
    local $?;    # waitpid must not change the exit status of the test
    stop_services();
}

# Partner-side signing for the suites, written independently of the
# module's C code (Digest::SHA), as a partner's client would.

sub hmac_b64 {
    my ($secret, $data) = @_;
    return encode_base64(hmac_sha1($data, $secret), '');
}

# x-cd-date in one of the formats Choose Digital clients send
sub cd_date {
    my ($format, $offset) = @_;
    my $t = time + ($offset // 0);
    $format //= 'Z';
    return strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $t) if $format eq 'Z';
    return strftime('%Y-%m-%dT%H:%M:%S', gmtime $t) if $format eq 'plain';
    if ($format eq 'php') {
        # date("Y-m-d\TH:i:s.BP") in UTC+01:00: Swatch beats and an offset
        my $local = $t + 3600;
        my $beat = sprintf '%03d', int((($t + 3600) % 86400) / 86.4);
        return strftime('%Y-%m-%dT%H:%M:%S', gmtime $local) . ".$beat+01:00";
    }
    die "unknown date format $format";
}

# the three Choose Digital headers, as more_headers lines
sub cd_headers {
    my ($key, $secret, $format, $offset) = @_;
    my $date = cd_date($format, $offset);
    return "cdaccesskeyid: $key\nx-cd-date: $date\n"
           . "authorization: " . hmac_b64($secret, $date) . "\n";
}

# the "authentication" parameter over the given field values, escaped
sub cd_auth {
    my ($secret, @values) = @_;
    return rfc3986(hmac_b64($secret, join '', @values));
}

sub rfc3986 {
    my $s = shift;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

sub cd_hashed_customer_id {
    return sha256_hex(shift);
}

# A 7digital partner's signed request, signed by oauthlib
# (t/mock/oauth_client.py).  Returns { request => "METHOD /path?query\nbody",
# headers => "Name: value\n..." } for --- request eval and
# --- more_headers eval; the same $id returns the same signed request, so
# both sections can ask for it.
my %Signed;

sub oauth_request {
    my ($id, %a) = @_;
    return $Signed{$id} if $Signed{$id};

    require JSON::PP;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
    my $url = "http://localhost:$port$a{path}";
    my @cmd = ('/usr/bin/python3', "$T/mock/oauth_client.py",
               '--method', $a{method} // 'GET', '--url', $url,
               '--key', $a{key}, '--secret', $a{secret},
               '--type', $a{type} // 'header');
    push @cmd, '--body', $a{body} if defined $a{body};
    push @cmd, '--age', $a{age} if $a{age};
    push @cmd, '--plaintext' if $a{plaintext};
    push @cmd, '--token', $a{token}, '--token-secret', $a{token_secret}
        if $a{token};

    open my $fh, '-|', @cmd or die "oauth_client.py: $!";
    my $out = do { local $/; <$fh> };
    close $fh or die "oauth_client.py failed\n";

    my $signed = JSON::PP::decode_json($out);
    (my $target = $signed->{uri}) =~ s{^http://[^/]+}{};
    my $headers = '';
    for my $h (sort keys %{$signed->{headers}}) {
        $headers .= "$h: $signed->{headers}{$h}\n";
    }
    $Signed{$id} = {
        request => ($a{method} // 'GET') . " $target\n" . ($signed->{body} // ''),
        target => $target,
        headers => $headers,
        body => $signed->{body},
    };
    return $Signed{$id};
}

# Many requests signed by oauthlib in one run of t/mock/oauth_client.py:
# each spec as for oauth_request (path, key, secret, method, type, body);
# returns the raw requests ("METHOD target\nbody"), for --- request eval.
sub oauth_requests {
    my @specs = @_;
    require JSON::PP;
    require IPC::Open2;
    my $port = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
    my @in = map {
        my %a = %$_;
        { url => "http://localhost:$port$a{path}", key => $a{key},
          secret => $a{secret}, method => $a{method} // 'GET',
          type => $a{type} // 'query',
          (defined $a{body} ? (body => $a{body}) : ()) }
    } @specs;
    my $pid = IPC::Open2::open2(my $out, my $in, '/usr/bin/python3',
                                "$T/mock/oauth_client.py", '--batch');
    print $in JSON::PP::encode_json(\@in);
    close $in;
    my $signed = JSON::PP::decode_json(do { local $/; <$out> });
    waitpid $pid, 0;
    die "oauth_client.py --batch failed\n" if $?;
    my @requests;
    for my $i (0 .. $#specs) {
        (my $target = $signed->[$i]{uri}) =~ s{^http://[^/]+}{};
        push @requests, ($specs[$i]{method} // 'GET') . " $target\n"
                        . ($signed->[$i]{body} // '');
    }
    return @requests;
}

# A block with no http_config gets the gateway's usual one, and every
# block gets locations that reach the mocks' control endpoints.
sub defaults {
    my %opt = @_;
    main::add_block_preprocessor(sub {
        my $block = shift;
        return if Gateway::same_nginx($block);

        if (!defined $block->{http_config}) {
            $block->set_value('http_config', <<'EOF');
    sevendigital_partners $TEST_NGINX_FIXTURES/partners.json;

    # the mock's own answers for cache tests (t/mock/mock_upstream.py)
    sevendigital_endpoint test/* catalogue;

    sevendigital_audit_log $TEST_NGINX_AUDIT_LOG;
    proxy_next_upstream off;

    upstream sevendigital {
        server 127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
        keepalive 8;
    }

    upstream choosedigital {
        server 127.0.0.1:$TEST_NGINX_MOCK_CD_PORT;
        keepalive 8;
    }
EOF
        }

        my $config = $block->{config} ? $block->{config}[0] : '';
        $block->set_value('config', $config . <<'EOF');

    location /__mock/7d/ {
        sevendigital_gateway off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_7D_PORT/__mock/;
    }

    location /__mock/cd/ {
        sevendigital_gateway off;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_CD_PORT/__mock/;
    }
EOF
    });
}

start_services();

1;
