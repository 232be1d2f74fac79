# The suites' own runner (t/harness) checked against the format's
# semantics; under a real Test::Nginx this file passes the same way.

use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::Nginx::Socket;

repeat_each(2);
plan 'no_plan';
no_shuffle();

$ENV{TEST_NGINX_HARNESS_WORD} = 'sesame';
env_to_nginx('TEST_NGINX_HARNESS_WORD');

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
--- user_files
>>> hello.txt
hi there
--- request
GET /hello.txt
--- response_body
hi there
