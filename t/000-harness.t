# The suites' own runner (t/harness) checked against the format's
# semantics; under a real Test::Nginx this file passes the same way.
# The blocks below must pass; the suites at the top of the file, run in a
# sub-process, must fail, as they do under the real Test::Nginx.

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;
use File::Temp qw(tempdir);

repeat_each(2);
plan 'no_plan';
no_shuffle();

$ENV{TEST_NGINX_HARNESS_WORD} = 'sesame';
env_to_nginx('TEST_NGINX_HARNESS_WORD');

# Runs a suite of its own in a sub-process, with whichever
# Test::Nginx::Socket this file has, on another port and server root;
# returns prove's exit status and output.
sub run_suite {
    my ($blocks) = @_;
    my $dir = tempdir(CLEANUP => 1);
    open my $fh, '>', "$dir/selftest.t" or die $!;
    print $fh "use Test::Nginx::Socket;\nrepeat_each(1);\n"
              . "plan 'no_plan';\nno_shuffle();\nrun_tests();\n"
              . "__DATA__\n\n$blocks";
    close $fh;
    local $ENV{PERL5LIB} = join ':', @INC;
    local $ENV{TEST_NGINX_PORT} = Gateway::free_port();
    local $ENV{TEST_NGINX_SERVER_PORT};
    local $ENV{TEST_NGINX_SERVROOT} = "$dir/servroot";
    local $ENV{TEST_NGINX_LOAD_MODULES} = '';
    my $out = `$^X $dir/selftest.t 2>&1`;
    return ($? >> 8, $out);
}

# error_log is checked after every request, on the lines written since
# the previous check: a line written for the first request only does not
# satisfy the check after the second
my ($rc, $out) = run_suite(<<'T');
=== TEST 1: a line logged by the first request only
--- config
    location /t/ { root html; }
--- request eval
["GET /t/first", "GET /t/second"]
--- error_code eval
[404, 404]
--- error_log
t/first" failed
T
isnt($rc, 0, 'self-test: error_log is checked after each request');
like($out, qr/not ok \d+ - .*TEST 1.*t\/first" failed/,
     '... and fails on the second request\'s lines');

# a block without config runs against the nginx already running: it is
# not restarted, so its user_files are not written on its first run
($rc, $out) = run_suite(<<'T');
=== TEST 1: nginx started with a config
--- config
    location /t/ { root html; }
--- user_files
>>> t/one.txt
one
--- request
GET /t/one.txt
--- response_body
one



=== TEST 2: no config: the running nginx, without this block's files
--- user_files
>>> t/two.txt
two
--- request
GET /t/two.txt
--- response_body
two
T
isnt($rc, 0, 'self-test: a block without config does not restart nginx');
like($out, qr/not ok \d+ - .*TEST 2/, '... and its files are not written');
unlike($out, qr/not ok \d+ - .*TEST 1/, '... while the first block passes');

run_tests();

__DATA__

=== TEST 1: repeat_each, config substitution, response headers
--- config
    location = /t {
        add_header X-Word $TEST_NGINX_HARNESS_WORD;
        return 200 "port=$server_port\n";
    }
--- request
GET /t
--- response_headers
X-Word: sesame
!X-Absent
--- response_body eval
"port=$ENV{TEST_NGINX_SERVER_PORT}\n"
--- no_error_log
[error]



=== TEST 2: main_config and env_to_nginx reach nginx
--- main_config
    worker_rlimit_nofile 1024;
--- config
    location = /t {
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok



=== TEST 3: a request body, and its trimmed Content-Length
--- config
    location = /t {
        client_body_buffer_size 1k;
        return 200 "len=$content_length\n";
    }
--- request
POST /t
hello body
--- response_body
len=10



=== TEST 4: several requests in one block, each checked
--- config
    location = /a { return 200 "a"; }
    location = /b { return 404; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 404]
--- response_body_like eval
[qr/^a$/, qr/404 Not Found/]



=== TEST 5: pipelined requests on one connection
--- config
    location = /a { return 200 "a\n"; }
--- pipelined_requests eval
["GET /a", "GET /a"]
--- response_body eval
["a\n", "a\n"]



=== TEST 6: timeout with abort: a slow answer is cut off quietly
--- http_config
    upstream slow {
        server 127.0.0.1:$TEST_NGINX_MOCK_7D_PORT;
    }
--- config
    location = /slow {
        proxy_pass http://slow/__mock/ping;
    }
    location = /fail {
        proxy_pass http://slow/__mock/fail?path=/__mock/ping&delay=1&times=1;
    }
--- request eval
["GET /fail", "GET /slow"]
--- timeout: 200ms
--- abort
--- ignore_response



=== TEST 7: error_log finds what nginx logged; wait lets late lines in
--- config
    location = /t {
        return 404;
    }
--- request
GET /t
--- error_code: 404
--- wait: 0.1
--- error_log
http finalize request: 404
--- no_error_log
[alert]



=== TEST 8: user_files are served from the html directory
--- config
    location = /t {
        return 200 "ok\n";
    }
--- user_files
>>> hello.txt
hi there
--- request
GET /hello.txt
--- response_body
hi there



=== TEST 9: a block without config: the same nginx and its files
--- request
GET /hello.txt
--- response_body
hi there



=== TEST 10: error_log and no_error_log after each request, on new lines
--- config
    location /t/ {
        root html;
    }
--- request eval
["GET /t/missing", "GET /t/missing", "GET /t/present.txt"]
--- user_files
>>> t/present.txt
here
--- error_code eval
[404, 404, 200]
--- error_log eval
[qr{"[^"]*/t/missing" failed|/t/present\.txt}]
