package Test::Nginx::Socket;

# The project's own runner for Test::Nginx::Socket-format suites.
#
# Debian ships no Test::Nginx and CPAN is out of reach, so this module
# implements the subset of the format the project's suites use, with the
# same semantics.  t/lib/Gateway.pm puts it at the *end* of @INC: a real
# Test::Nginx::Socket (prove -I<test-nginx>/lib) always takes precedence.
#
# Supported: repeat_each, plan/no_plan (Test::More), blocks, no_shuffle,
# env_to_nginx, add_block_preprocessor, master_on/off, workers,
# worker_connections, log_level, no_long_string, no_diff,
# no_root_location, server_port, html_dir, server_root, run_tests;
# sections main_config, post_main_config, http_config, config, user_files,
# request (plain and eval; an array runs several requests),
# pipelined_requests, raw_request, more_headers, error_code,
# response_body, response_body_like, response_body_unlike,
# response_headers (!Name for absent), response_headers_like, error_log,
# no_error_log, timeout, abort, ignore_response, wait, must_die, SKIP.
# As the real one: nginx restarts once per block that has a config, a
# block without one runs against the nginx before it, and the error log
# is checked after every request on the lines written since the last
# check.  docs/testing.md lists what is not implemented.

use strict;
use warnings;

use Test::Base;
use Cwd qw(cwd abs_path);
use File::Path qw(make_path remove_tree);
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

our $VERSION = '0.01-gateway';

our @EXPORT_OWN = qw(
    run_tests repeat_each no_shuffle env_to_nginx add_block_preprocessor
    master_on master_off workers worker_connections log_level
    no_long_string no_diff no_root_location server_port html_dir
    server_root
);

our @EXPORT_TEST = qw(
    plan blocks is isnt like unlike ok is_deeply diag note pass fail
    skip BAIL_OUT done_testing
);

my $RepeatEach = 1;
my $Shuffle = !$ENV{TEST_NGINX_NO_SHUFFLE};
my $MasterOn = ($ENV{TEST_NGINX_MASTER_PROCESS} // 'off') eq 'on';
my $Workers = 1;
my $WorkerConnections = 64;
my $LogLevel = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
my $RootLocation = 1;
my @EnvToNginx;
my @Preprocessors;

my $Binary = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $Port = $ENV{TEST_NGINX_PORT} || $ENV{TEST_NGINX_SERVER_PORT} || 1984;
my $ServRoot = $ENV{TEST_NGINX_SERVROOT}
               || cwd() . '/t/servroot';
my $Timeout = $ENV{TEST_NGINX_TIMEOUT} || 3;

$ENV{TEST_NGINX_SERVER_PORT} = $Port;
$ENV{TEST_NGINX_PORT} = $Port;
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
$ENV{TEST_NGINX_HTML_DIR} = "$ServRoot/html";

my $Running = 0;
my $Valgrind = $ENV{TEST_NGINX_USE_VALGRIND};
my $LastBlock;

sub import {
    my $class = shift;
    my $caller = caller;
    no strict 'refs';
    for my $name (@EXPORT_OWN, @EXPORT_TEST) {
        *{"${caller}::$name"} = \&{"Test::Nginx::Socket::$name"};
    }
}

# Test::More functions Test::Base does not pass on
sub note { Test::More::note(@_) }
sub BAIL_OUT { Test::More::BAIL_OUT(@_) }
sub done_testing { Test::More::done_testing(@_) }

sub repeat_each { $RepeatEach = shift if @_; return $RepeatEach }
sub no_shuffle { $Shuffle = 0 }
sub master_on { $MasterOn = 1 }
sub master_off { $MasterOn = 0 }
sub workers { $Workers = shift }
sub worker_connections { $WorkerConnections = shift }
sub log_level { $LogLevel = shift }
sub no_long_string { }
sub no_root_location { $RootLocation = 0 }
sub server_port { return $Port }
sub html_dir { return "$ServRoot/html" }
sub server_root { return $ServRoot }
sub env_to_nginx { push @EnvToNginx, @_ }
sub add_block_preprocessor { unshift @Preprocessors, shift }

# a section's value, or undef when the block has none
sub sec {
    my ($block, $name) = @_;
    my $v = $block->{$name};
    return undef unless defined $v;
    return ref $v eq 'ARRAY' ? $v->[0] : $v;
}

sub expand_env {
    my ($text, $where) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_NGINX_[A-Za-z0-9_]+)}{
        defined $ENV{$1} ? $ENV{$1}
                         : Test::More::BAIL_OUT("No environment $1 defined in $where")
    }ge;
    return $text;
}

sub expand_any {
    my ($v, $where) = @_;
    return [map { expand_env($_, $where) } @$v] if ref $v eq 'ARRAY';
    return expand_env($v, $where);
}

sub run_tests {
    my @blocks = blocks();
    if ($Shuffle) {
        require List::Util;
        @blocks = List::Util::shuffle(@blocks);
    }

    remove_tree($ServRoot) if -d $ServRoot;
    make_path("$ServRoot/conf", "$ServRoot/logs", "$ServRoot/html");

    for my $block (@blocks) {
        $_->($block) for @Preprocessors;
        run_block($block);
    }

    stop_nginx();
}

# As the real Test::Nginx::Util::run_test: a block with a config restarts
# nginx once (with a fresh html and logs directory), then runs its
# repeats against it; a block without one reuses the running nginx, its
# files and its log.  user_files are written when nginx starts, and again
# from the second repeat on.
my $PrevConfig;
my $LogPos = 0;

sub run_block {
    my $block = shift;
    my $name = $block->name;

    if (defined $block->{SKIP}) {
        SKIP: { Test::More::skip("$name - SKIP", 1) }
        return;
    }

    my $config = sec($block, 'config');

    if (!defined $config) {
        Test::More::BAIL_OUT("$name - No '--- config' section specified "
                             . "and could not get previous one")
            unless defined $PrevConfig;

    } else {
        $PrevConfig = $config;

        stop_nginx();
        remove_tree("$ServRoot/html", "$ServRoot/logs");
        make_path("$ServRoot/html", "$ServRoot/logs");
        write_user_files($block);
        write_config($block);

        my $ok = start_nginx($block);

        if (defined sec($block, 'must_die')) {
            ok(!$ok, "$name - nginx refused to start");
            $LogPos = 0;
            check_logs($block);
            return;
        }

        if (!$ok) {
            fail("$name - nginx failed to start: "
                 . tail_file("$ServRoot/logs/error.log", 10));
            return;
        }
    }

    # the first check of a block reads the log from its start
    $LogPos = 0;

    for my $rep (1 .. $RepeatEach) {
        write_user_files($block) if $rep > 1;
        run_requests($block);
    }
}

sub run_requests {
    my $block = shift;

    my @requests = build_requests($block);
    my $pipelined = defined $block->{pipelined_requests};
    my $wait = sec($block, 'wait');
    my @responses;

    if ($pipelined) {
        @responses = send_pipelined($block, \@requests);
    }

    # the log is checked after every request, on the lines written since
    # the previous check
    my $n = $pipelined ? @responses : @requests;
    for my $i (0 .. $n - 1) {
        my $res = $pipelined ? $responses[$i]
                             : send_request($block, $requests[$i]);
        check_response($block, $res, $i, $n);
        sleep($wait) if $wait;
        check_logs($block);
    }
}

sub write_user_files {
    my $block = shift;
    my $files = sec($block, 'user_files');
    return unless defined $files;
    my @parts = split /^>>> /m, $files;
    for my $part (@parts) {
        next unless length $part;
        my ($head, $body) = split /\n/, $part, 2;
        my ($file) = split /\s+/, $head;
        my $path = "$ServRoot/html/$file";
        (my $dir = $path) =~ s{/[^/]*$}{};
        make_path($dir);
        open my $fh, '>', $path or die "$path: $!";
        print $fh expand_env($body // '', $block->name);
        close $fh;
    }
}

sub write_config {
    my $block = shift;
    my $name = $block->name;

    my $main = expand_env(sec($block, 'main_config') // '', $name);
    my $post = expand_env(sec($block, 'post_main_config') // '', $name);
    my $http = expand_env(sec($block, 'http_config') // '', $name);
    my $config = expand_env(sec($block, 'config') // '', $name);

    # as Test::Nginx::Util does, for every block's http_config
    $http = $Test::Nginx::Util::FilterHttpConfig->($http)
        if $Test::Nginx::Util::FilterHttpConfig;

    my $modules = '';
    for my $m (split ' ', $ENV{TEST_NGINX_LOAD_MODULES} // '') {
        $modules .= "load_module $m;\n";
    }

    my $env = join '', map { "env $_;\n" } @EnvToNginx;
    my $master = $MasterOn ? 'on' : 'off';
    my $user = '';
    if ($ENV{TEST_NGINX_WORKER_USER}) {
        $user = "user $ENV{TEST_NGINX_WORKER_USER};\n";
    } elsif ($> == 0) {
        $user = "user root;\n";
    }

    my $root = $RootLocation ? <<"EOF" : '';
        location / {
            root $ServRoot/html;
            index index.html index.htm;
        }
EOF

    open my $fh, '>', "$ServRoot/conf/nginx.conf"
        or die "cannot write nginx.conf: $!";
    print $fh <<"EOF";
worker_processes $Workers;
daemon on;
master_process $master;
error_log $ServRoot/logs/error.log $LogLevel;
pid $ServRoot/logs/nginx.pid;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env ASAN_OPTIONS;
$env
$modules
$main

http {
    access_log $ServRoot/logs/access.log;
    client_body_temp_path $ServRoot/client_body_temp;
    proxy_temp_path $ServRoot/proxy_temp;
    fastcgi_temp_path $ServRoot/fastcgi_temp;
    uwsgi_temp_path $ServRoot/uwsgi_temp;
    scgi_temp_path $ServRoot/scgi_temp;
    default_type text/plain;
    keepalive_timeout 68;

$http

    server {
        listen $Port;
        server_name 'localhost';
        client_max_body_size 30M;

$config

$root
    }
}

$post

events {
    accept_mutex off;
    worker_connections $WorkerConnections;
}
$user
EOF
    close $fh;
}

sub nginx_pid {
    open my $fh, '<', "$ServRoot/logs/nginx.pid" or return undef;
    my $pid = <$fh>;
    close $fh;
    return undef unless defined $pid && $pid =~ /^(\d+)/;
    return $1;
}

sub start_nginx {
    my $block = shift;
    my $cmd = "$Binary -p $ServRoot/ -c $ServRoot/conf/nginx.conf"
              . " -e $ServRoot/logs/error.log";
    if ($Valgrind) {
        $cmd = "valgrind -q --tool=memcheck --trace-children=yes"
               . " --leak-check=full --show-leak-kinds=definite"
               . " --num-callers=30"
               . " --log-file=$ServRoot/logs/valgrind.%p.log $cmd";
    }
    $LastBlock = $block->name;
    my $rc = system("$cmd >> $ServRoot/logs/startup.log 2>&1");
    return 0 if $rc != 0;

    # daemon on: the parent returns once the worker is forked; wait for
    # the listening socket rather than for a fixed time
    my $deadline = time + ($Valgrind ? 60 : 5);
    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $Port, Proto => 'tcp');
        if ($s) {
            close $s;
            $Running = 1;
            return 1;
        }
        sleep 0.02;
    }
    return 0;
}

# a daemonised nginx is not our child: once it exits it stays a zombie
# until init reaps it, which must count as gone
sub alive {
    my $pid = shift;
    return 0 unless kill 0, $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    my $stat = <$fh> // '';
    close $fh;
    return $stat !~ /^\d+ \(.*\) [ZX] /s;
}

sub stop_nginx {
    my $pid = nginx_pid();
    return unless $pid;
    kill 'QUIT', $pid;
    my $deadline = time + ($Valgrind ? 60 : 5);
    while (time < $deadline && alive($pid)) {
        sleep 0.005;
    }
    kill 'KILL', $pid if alive($pid);
    unlink "$ServRoot/logs/nginx.pid";
    $Running = 0;
    check_valgrind() if $Valgrind;
    check_sanitizers() if $ENV{TEST_NGINX_USE_ASAN};
}

# the AddressSanitizer and UBSan reports written since the last check
# (t/lib/Gateway.pm, make asan)
sub check_sanitizers {
    my @found = defined &Gateway::sanitizer_findings
                ? Gateway::sanitizer_findings() : ();
    ok(!@found, "$LastBlock - no sanitizer report")
        or diag(join "\n", @found[0 .. ($#found > 2 ? 2 : $#found)]);
}

# memcheck's findings for the instance just stopped: any invalid access,
# and leaks whose allocation passed through this module
sub check_valgrind {
    my @found;
    for my $file (glob "$ServRoot/logs/valgrind.*.log") {
        open my $fh, '<', $file or next;
        my $text = do { local $/; <$fh> };
        close $fh;
        unlink $file;
        for my $rec (split /\n==\d+== \n/, $text) {
            next unless $rec =~ /Invalid (?:read|write|free)|uninitialised|Mismatched free|definitely lost/;
            next if $rec =~ /definitely lost/ && $rec !~ /ngx_http_7digital/;
            push @found, $rec;
        }
    }
    ok(!@found, "$LastBlock - valgrind found nothing")
        or diag(join "\n\n", @found[0 .. ($#found > 2 ? 2 : $#found)]);
}

END {
    local $?;
    stop_nginx() if $Running;
}

sub parse_request_text {
    my ($text, $name) = @_;
    $text =~ s/^\s+//s;
    my ($first, $content) = split /\n/, $text, 2;
    $first =~ s/\s+$//;
    my ($meth, $url, $proto) = split /\s+/, $first, 3;
    Test::More::BAIL_OUT("$name: bad request line \"$first\"") unless $meth && $url;
    $content //= '';
    $content =~ s/^\s+|\s+$//gs;
    return { method => $meth, url => $url,
             proto => $proto || 'HTTP/1.1', content => $content };
}

sub build_requests {
    my $block = shift;
    my $name = $block->name;

    my $raw = sec($block, 'raw_request');
    if (defined $raw) {
        return map { { raw => expand_env($_, $name) } }
               (ref $raw eq 'ARRAY' ? @$raw : ($raw));
    }

    my $req = sec($block, 'pipelined_requests') // sec($block, 'request');
    Test::More::BAIL_OUT("$name: no request section") unless defined $req;

    my @texts = ref $req eq 'ARRAY' ? @$req : ($req);
    my $more = expand_env(sec($block, 'more_headers') // '', $name);

    my @reqs;
    for my $i (0 .. $#texts) {
        my $r = parse_request_text(expand_env($texts[$i], $name), $name);
        my @headers;
        my %seen;
        for my $line (split /\n/, $more) {
            next unless $line =~ /\S/;
            my ($k, $v) = $line =~ /^\s*([^:]+?)\s*:\s*(.*?)\s*$/
                or Test::More::BAIL_OUT("$name: bad more_headers line \"$line\"");
            push @headers, [$k, $v];
            $seen{lc $k} = 1;
        }
        unshift @headers, ['Host', 'localhost'] unless $seen{host};
        my $last = $i == $#texts;
        if (!$seen{connection}) {
            push @headers, ['Connection',
                            (defined $block->{pipelined_requests} && !$last)
                            ? 'keep-alive' : 'close'];
        }
        if (length $r->{content} && !$seen{'content-length'}
            && !$seen{'transfer-encoding'})
        {
            push @headers, ['Content-Length', length $r->{content}];
        }
        my $wire = "$r->{method} $r->{url} $r->{proto}\r\n"
                   . join('', map { "$_->[0]: $_->[1]\r\n" } @headers)
                   . "\r\n" . $r->{content};
        push @reqs, { raw => $wire, method => $r->{method} };
    }
    return @reqs;
}

sub block_timeout {
    my $block = shift;
    my $t = sec($block, 'timeout');
    return $Timeout unless defined $t;
    return $1 / 1000 if $t =~ /^\s*(\d+)ms\s*$/;
    return $1 if $t =~ /^\s*([\d.]+)s?\s*$/;
    return $Timeout;
}

sub read_all {
    my ($sock, $timeout, $want_responses) = @_;
    my $sel = IO::Select->new($sock);
    my $data = '';
    my $deadline = time + $timeout;
    while (1) {
        my $left = $deadline - time;
        return ($data, 1) if $left <= 0;
        last unless $sel->can_read($left);
        my $n = sysread($sock, my $buf, 65536);
        last if !defined $n || $n == 0;
        $data .= $buf;
    }
    return ($data, 0);
}

sub send_request {
    my ($block, $req) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $Port, Proto => 'tcp')
        or return { error => "cannot connect: $!" };
    binmode $sock;
    my $raw = $req->{raw};
    while (length $raw) {
        my $n = syswrite($sock, $raw);
        last unless defined $n;
        substr($raw, 0, $n, '');
    }
    my ($data, $timed_out) = read_all($sock, block_timeout($block));
    close $sock;
    my $res = parse_response($data, $req->{method} // '');
    $res->{timed_out} = $timed_out;
    return $res;
}

sub send_pipelined {
    my ($block, $reqs) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $Port, Proto => 'tcp')
        or return ({ error => "cannot connect: $!" });
    binmode $sock;
    syswrite($sock, join '', map { $_->{raw} } @$reqs);
    my ($data, $timed_out) = read_all($sock, block_timeout($block));
    close $sock;
    my @res;
    for my $req (@$reqs) {
        my $r = parse_response($data, $req->{method}, \my $rest);
        $r->{timed_out} = $timed_out;
        push @res, $r;
        $data = $rest // '';
    }
    return @res;
}

sub parse_response {
    my ($data, $method, $rest_ref) = @_;
    my $res = { status => undef, headers => [], body => '', raw => $data };
    my $end = index($data, "\r\n\r\n");
    return $res if $end < 0;
    my $head = substr($data, 0, $end);
    my $body = substr($data, $end + 4);
    my @lines = split /\r\n/, $head;
    my $status = shift @lines;
    ($res->{status}) = $status =~ m{^HTTP/\d\.\d\s+(\d+)};
    for my $l (@lines) {
        my ($k, $v) = $l =~ /^([^:]+):\s*(.*)$/ or next;
        push @{$res->{headers}}, [$k, $v];
    }
    my $te = header_value($res, 'Transfer-Encoding');
    my $cl = header_value($res, 'Content-Length');
    my $rest = '';
    if ($method eq 'HEAD' || ($res->{status} // 0) == 304
        || ($res->{status} // 0) == 204)
    {
        $rest = $body;
        $body = '';
    } elsif (defined $te && $te =~ /chunked/i) {
        my $out = '';
        while ($body =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $n = hex $1;
            if ($n == 0) {
                $body =~ s/^(?:[^\r\n]+\r\n)*\r\n//;
                last;
            }
            $out .= substr($body, 0, $n, '');
            $body =~ s/^\r\n//;
        }
        $rest = $body;
        $body = $out;
    } elsif (defined $cl) {
        $rest = substr($body, $cl) if length $body > $cl;
        $body = substr($body, 0, $cl);
    }
    $res->{body} = $body;
    $$rest_ref = $rest if $rest_ref;
    return $res;
}

sub header_value {
    my ($res, $name) = @_;
    my @v = map { $_->[1] } grep { lc $_->[0] eq lc $name }
            @{$res->{headers}};
    return undef unless @v;
    return join ', ', @v;
}

sub pick {
    my ($v, $i) = @_;
    return ref $v eq 'ARRAY' ? $v->[$i] : $v;
}

sub check_response {
    my ($block, $res, $i, $n) = @_;
    my $name = $block->name;
    $name .= " - req $i" if $n > 1;

    if ($res->{error}) {
        fail("$name - $res->{error}");
        return;
    }

    if ($res->{timed_out} && !defined $block->{abort}) {
        fail("$name - timeout while reading the response");
    }

    return if defined $block->{ignore_response};

    my $code = pick(sec($block, 'error_code') // 200, $i);
    is($res->{status} // '', $code, "$name - status code ok");

    my $hdrs = pick(sec($block, 'response_headers'), $i);
    if (defined $hdrs) {
        for my $line (split /\n/, expand_env($hdrs, $name)) {
            next unless $line =~ /\S/;
            if ($line =~ /^\s*!\s*(\S+?)\s*$/) {
                my $h = $1;
                ok(!defined header_value($res, $h),
                   "$name - header $h not present");
                next;
            }
            my ($k, $v) = $line =~ /^\s*([^:]+?)\s*:\s*(.*?)\s*$/
                or Test::More::BAIL_OUT("$name: bad response_headers line \"$line\"");
            my $got = header_value($res, $k);
            if ($v eq '') {
                ok(!defined $got || $got eq '',
                   "$name - header $k absent or empty");
            } else {
                is($got, $v, "$name - header $k ok");
            }
        }
    }

    my $hlike = pick(sec($block, 'response_headers_like'), $i);
    if (defined $hlike) {
        for my $line (split /\n/, expand_env($hlike, $name)) {
            next unless $line =~ /\S/;
            my ($k, $v) = $line =~ /^\s*([^:]+?)\s*:\s*(.*?)\s*$/
                or next;
            like(header_value($res, $k) // '', qr/^$v$/,
                 "$name - header $k like ok");
        }
    }

    if (defined $block->{response_body}) {
        my $want = expand_any(pick(sec($block, 'response_body'), $i), $name);
        is($res->{body}, $want, "$name - response_body - response is expected");
    }

    if (defined $block->{response_body_like}) {
        my $re = pick(sec($block, 'response_body_like'), $i);
        $re = expand_env($re, $name) unless ref $re;
        $re = qr/$re/sm unless ref $re eq 'Regexp';
        like($res->{body}, $re, "$name - response_body_like - response is expected");
    }

    if (defined $block->{response_body_unlike}) {
        my $re = pick(sec($block, 'response_body_unlike'), $i);
        $re = qr/$re/sm unless ref $re eq 'Regexp';
        unlike($res->{body}, $re, "$name - response_body_unlike - response is expected");
    }
}

sub tail_file {
    my ($file, $n) = @_;
    open my $fh, '<', $file or return '';
    my @l = <$fh>;
    close $fh;
    my $s = @l > $n ? $#l - $n + 1 : 0;
    my $startup = '';
    if (open my $su, '<', "$ServRoot/logs/startup.log") {
        local $/;
        $startup = <$su> // '';
    }
    return join('', @l[$s .. $#l]) . $startup;
}

sub log_patterns {
    my ($v, $name) = @_;
    return () unless defined $v;
    return map { ref $_ ? $_ : expand_env($_, $name) } @$v
        if ref $v eq 'ARRAY';
    return ($v) if ref $v eq 'Regexp';
    return grep { /\S/ } split /\n/, expand_env($v, $name);
}

# the log lines written since the previous check; like the real
# harness, give lines logged after the connection closed (log phase) a
# moment to arrive
sub new_log_lines {
    sleep(($ENV{TEST_NGINX_SLEEP} // 0.015) * 3);
    my @lines;
    if (open my $fh, '<', "$ServRoot/logs/error.log") {
        seek $fh, $LogPos, 0;
        @lines = <$fh>;
        $LogPos = tell $fh;
        close $fh;
    }
    return @lines;
}

sub check_logs {
    my $block = shift;
    my $name = $block->name;

    my @want = log_patterns(sec($block, 'error_log'), $name);
    my @unwanted = log_patterns(sec($block, 'no_error_log'), $name);

    # read even with nothing to match: the real harness always reads (it
    # looks for [alert] lines), and so always moves the position on
    my @lines = new_log_lines();

    for my $pat (@want) {
        my $hit = grep { ref $pat ? $_ =~ $pat : index($_, $pat) >= 0 }
                  @lines;
        ok($hit, "$name - pattern \"$pat\" matches a line in error.log");
    }

    for my $pat (@unwanted) {
        my @hits = grep { ref $pat ? $_ =~ $pat : index($_, $pat) >= 0 }
                   @lines;
        ok(!@hits, "$name - pattern \"$pat\" does not match any line in "
                   . "error.log") or diag(join '', @hits[0 .. ($#hits > 4 ? 4 : $#hits)]);
    }
}

1;
