# Over HTTP/2 nginx builds the request line in a buffer of its own: the
# credentials leave it all the same ($request, error log lines).
# (Test::More with curl: the Test::Nginx format speaks HTTP/1.x.)

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;

my $curl = '/usr/bin/curl';
plan skip_all => 'no curl' unless -x $curl;
my $v = `$curl --version`;
plan skip_all => 'curl without HTTP/2' unless $v =~ /\bHTTP2\b/;

my $port = Gateway::free_port();
my $dir = Gateway::start_nginx('h2', <<"CONF", port => $port);
    sevendigital_partners $ENV{TEST_NGINX_FIXTURES}/partners.json;
    sevendigital_audit_log off;
    server {
        listen 127.0.0.1:$port http2;
        location /1.2/ {
            sevendigital_gateway 7digital;
            sevendigital_upstream_key $ENV{TEST_NGINX_UPSTREAM_7D_KEY};
            add_header X-Request \$request always;
            add_header X-Log-Request \$sevendigital_request always;
            proxy_pass http://127.0.0.1:$ENV{TEST_NGINX_MOCK_7D_PORT};
        }
    }
CONF

my $out = `$curl -s -o /dev/null -D - --http2-prior-knowledge "http://127.0.0.1:$port/1.2/release/details?oauth_consumer_key=no-such-key-h2&releaseId=1"`;

like($out, qr{^HTTP/2 401}m, 'HTTP/2, an unknown key: 401');
like($out, qr{^x-request: GET /1\.2/release/details\?releaseId=1 HTTP/2\.0\r?$}m,
     '$request without the key');
like($out, qr{^x-log-request: GET /1\.2/release/details\?releaseId=1 HTTP/2\.0\r?$}m,
     '$sevendigital_request without the key');

Gateway::stop_nginx($dir);

is(Gateway::log_count($dir, qr/no-such-key-h2/), 0,
   'the error log never has the key');
ok(Gateway::log_count($dir, qr/request refused/),
   '... though it has the refusal');

done_testing();
