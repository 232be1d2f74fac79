# Configuration-time checks: what `nginx -t` says about a broken partners
# file or a gateway missing a directive, and that the shipped configs load.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use File::Copy qw(copy);

my $nginx = $ENV{TEST_NGINX_BINARY};
my $module = (split ' ', $ENV{TEST_NGINX_LOAD_MODULES})[0];
my $fx = $ENV{TEST_NGINX_FIXTURES};
my $dir = tempdir(CLEANUP => 1);

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh;
}

# runs nginx -t on an http{} body; returns (exit status, output)
sub nginx_t {
    my ($http) = @_;
    write_file("$dir/nginx.conf", <<"CONF");
load_module $module;
error_log $dir/error.log;
pid $dir/nginx.pid;
events {}
http {
    access_log off;
    client_body_temp_path $dir;
    proxy_temp_path $dir;
    fastcgi_temp_path $dir;
    uwsgi_temp_path $dir;
    scgi_temp_path $dir;
$http
}
CONF
    my $out = `$nginx -t -p $dir/ -c $dir/nginx.conf -e $dir/error.log 2>&1`;
    return ($? >> 8, $out);
}

sub partners_t {
    my ($json) = @_;
    write_file("$dir/partners.json", $json);
    return nginx_t("sevendigital_partners $dir/partners.json;");
}

my ($rc, $out);

($rc, $out) = nginx_t("sevendigital_partners $fx/partners.json;");
is($rc, 0, 'the fixture partners file loads') or diag($out);

($rc, $out) = nginx_t("sevendigital_partners $fx/partners-rotation.json;");
is($rc, 0, 'a partner with several keys loads') or diag($out);
like($out, qr/syntax is ok/, 'nginx -t says syntax is ok');

($rc, $out) = partners_t(<<'JSON');
{
  "partners": [
    { "id": "a", "key": "k1" }
    { "id": "b", "key": "k2" }
  ]
}
JSON
isnt($rc, 0, 'broken JSON fails nginx -t');
like($out, qr{\[emerg\] invalid partners file "\Q$dir\E/partners\.json": line 4, column \d+: .+ in \Q$dir\E/nginx\.conf:\d+},
     'the message names the file, the line and column, what is wrong, '
     . 'and the directive') or diag($out);

my %bad = (
    'no key' => ['{"partners":[{"id":"a"}]}', qr/partner #1 has no "key"/],
    'duplicate id' =>
        ['{"partners":[{"id":"a","key":"k1"},{"id":"a","key":"k2"}]}',
         qr/partner #2: duplicate id "a"/],
    'duplicate key' =>
        ['{"partners":[{"id":"a","key":"SAMEKEY1"},{"id":"b","key":"SAMEKEY1"}]}',
         qr/partner "b" has the same key as partner "a"/],
    'unknown member' =>
        ['{"partners":[{"id":"a","key":"k","enabeld":false}]}',
         qr/partner #1 has an unknown member "enabeld"/],
    'neither key nor keys' =>
        ['{"partners":[{"id":"a","secret":"s"}]}',
         qr/partner #1 has no "key"/],
    'empty keys' =>
        ['{"partners":[{"id":"a","keys":[]}]}',
         qr/partner "a": "keys" must be a list of \{"key", "secret", "not_after"\}/],
    'a key with an unknown member' =>
        ['{"partners":[{"id":"a","keys":[{"key":"k1"},{"key":"k2","expires":"x"}]}]}',
         qr/partner "a": key #2 of "keys" must be \{"key", "secret", "not_after"\}/],
    'a key without a key' =>
        ['{"partners":[{"id":"a","keys":[{"secret":"s"}]}]}',
         qr/partner #1 has no "key"/],
    'a bad not_after' =>
        ['{"partners":[{"id":"a","keys":[{"key":"k1","not_after":"2027-01-31"}]}]}',
         qr/partner "a": "not_after" of key #1 must be a UTC time as "2027-01-31T00:00:00Z"/],
    'a key of two partners' =>
        ['{"partners":[{"id":"a","key":"SAMEKEY1"},{"id":"b","keys":[{"key":"k2"},{"key":"SAMEKEY1"}]}]}',
         qr/partner "b" has the same key as partner "a"/],
    'bad enabled' =>
        ['{"partners":[{"id":"a","key":"k","enabled":"no"}]}',
         qr/partner "a": "enabled" must be true or false/],
    'bad apis' =>
        ['{"partners":[{"id":"a","key":"k","apis":["spotify"]}]}',
         qr/partner #1: "apis" must be an array of "7digital" and "choosedigital"/],
    'key not a string' =>
        ['{"partners":[{"id":"a","key":42}]}',
         qr/partner #1: "key" must be a string/],
    'empty id' =>
        ['{"partners":[{"id":"","key":"k"}]}',
         qr/partner #1: "id" must be 1 to 64 bytes long/],
    'space in key' =>
        ['{"partners":[{"id":"a","key":"a b"}]}',
         qr/partner #1: "key" may only hold visible ASCII/],
    'no partners array' =>
        ['{"partner":[]}',
         qr/the top level must be an object with a "partners" array/],
    'top level array' =>
        ['[]', qr/the top level must be an object with a "partners" array/],
    'duplicate member' =>
        ['{"partners":[{"id":"a","id":"b","key":"k"}]}',
         qr/line 1, column \d+: a key appears twice in one object/],
);

for my $case (sort keys %bad) {
    my ($json, $re) = @{$bad{$case}};
    ($rc, $out) = partners_t($json);
    isnt($rc, 0, "$case: nginx -t fails");
    like($out, $re, "$case: the message says what is wrong") or diag($out);
}

# a secret or key never appears in a message, even next to the error
($rc, $out) = partners_t(<<'JSON');
{"partners":[
  {"id":"a","key":"VISIBLEKEY-111","secret":"TOPSECRET-111"},
  {"id":"b","key":"VISIBLEKEY-111","secret":"TOPSECRET-222"}
]}
JSON
isnt($rc, 0, 'duplicate keys fail');
unlike($out, qr/TOPSECRET|VISIBLEKEY/, 'neither secrets nor keys are printed');

($rc, $out) = partners_t(<<'JSON');
{"partners":[{"id":"a","key":"k1","secret":UNQUOTED-SECRET-333}]}
JSON
isnt($rc, 0, 'a secret left unquoted fails');
like($out, qr{partners\.json": line 1, column \d+: invalid JSON syntax in },
     '... the kind of error and where it is') or diag($out);
unlike($out, qr/UNQUOTED-SECRET/, '... and no fragment of the file is printed');

($rc, $out) = nginx_t("sevendigital_partners $dir/missing.json;");
isnt($rc, 0, 'a missing partners file fails');
like($out, qr{invalid partners file "\Q$dir\E/missing\.json": .*cannot be opened},
     'the message names the missing file') or diag($out);

($rc, $out) = nginx_t("sevendigital_partners $fx/partners.json;\n"
                      . "sevendigital_partners $fx/partners.json;");
like($out, qr/"sevendigital_partners" directive is duplicate/,
     'a second partners file is refused');

($rc, $out) = partners_t(<<'JSON');
{"partners": [{"id": "a", "key": "k1",
               "limits": {"catalogue": {"rate": "50r/s", "burst": 100},
                          "purchase": {"rate": "10r/m"}}}]}
JSON
is($rc, 0, 'limits per endpoint class load') or diag($out);

for my $bad ('{"catalogue": {"rate": "50r/d"}}', '{"sales": {"rate": "1r/s"}}',
             '{"user": {"rate": "1r/s", "burst": -1}}',
             '{"user": {"rate": "1r/s", "brust": 2}}', '[]') {
    ($rc, $out) = partners_t(qq({"partners": [{"id": "a", "key": "k1", "limits": $bad}]}));
    like($out, qr/partner "a": "limits" must map "catalogue", "user" or "purchase"/,
         "limits $bad refused");
}

sub in_location {
    my $loc = shift;
    return "sevendigital_partners $fx/partners.json;\n"
           . "server { listen 127.0.0.1:1; location / { $loc } }";
}

($rc, $out) = nginx_t("server { listen 127.0.0.1:1; location / { "
                      . "sevendigital_gateway 7digital; "
                      . "sevendigital_upstream_key k; } }");
like($out, qr/"sevendigital_gateway" requires "sevendigital_partners" in the http block/,
     'the gateway needs a partners file');

($rc, $out) = nginx_t(in_location('sevendigital_gateway 7digital;'));
like($out, qr/"sevendigital_gateway" requires "sevendigital_upstream_key"/,
     'the gateway needs the upstream key');

($rc, $out) = nginx_t(in_location('sevendigital_gateway choosedigital; '
                                  . 'sevendigital_upstream_key k;'));
like($out, qr/"sevendigital_gateway choosedigital" requires "sevendigital_upstream_secret_file"/,
     'Choose Digital needs the upstream secret');

($rc, $out) = nginx_t(in_location('sevendigital_gateway chosedigital;'));
like($out, qr/invalid value "chosedigital" in "sevendigital_gateway" directive/,
     'a misspelt API is named');

($rc, $out) = nginx_t(in_location("sevendigital_upstream_secret_file $dir/nope.secret;"));
like($out, qr{open\(\) "\Q$dir\E/nope\.secret" failed},
     'a missing secret file is named');

write_file("$dir/empty.secret", "\n");
($rc, $out) = nginx_t(in_location("sevendigital_upstream_secret_file $dir/empty.secret;"));
like($out, qr{secret file "\Q$dir\E/empty\.secret" is empty},
     'an empty secret file is refused');

write_file("$dir/ok.secret", "SUPERSECRET-xyz\n");
($rc, $out) = nginx_t(in_location("sevendigital_upstream_secret_file $dir/ok.secret; "
                                  . "sevendigital_gateway choosedigital;"));
like($out, qr/requires "sevendigital_upstream_key"/, 'other errors still show');
unlike($out, qr/SUPERSECRET/, 'the secret itself is never printed');

($rc, $out) = nginx_t(in_location('sevendigital_cache_purge 7digital;'));
like($out, qr/"sevendigital_cache_purge" requires "sevendigital_redis" or "sevendigital_redis_cache" in .*nginx\.conf:\d+/,
     'purge needs Redis');

($rc, $out) = nginx_t("sevendigital_redis 127.0.0.1:6379;\n"
                      . in_location('sevendigital_cache_purge 7dgital;'));
like($out, qr/invalid value "7dgital" in "sevendigital_cache_purge", it must be "7digital" or "choosedigital"/,
     'a misspelt purge API is named');

($rc, $out) = nginx_t("sevendigital_redis 127.0.0.1:6379;\n"
                      . "sevendigital_partners $fx/partners.json;\n"
                      . "server { listen 127.0.0.1:1; "
                      . "sevendigital_gateway 7digital; "
                      . "sevendigital_upstream_key k; "
                      . "location /purge { sevendigital_cache_purge 7digital; } }");
like($out, qr/"sevendigital_cache_purge" cannot be used where "sevendigital_gateway" is on, add "sevendigital_gateway off;" to its location/,
     'a purge location under an inherited gateway is refused, with the fix');

($rc, $out) = nginx_t("sevendigital_redis 127.0.0.1:6379;\n"
                      . in_location('sevendigital_cache_purge 7digital $uri; '
                                    . 'sevendigital_cache_purge 7digital;'));
like($out, qr/"sevendigital_cache_purge" directive is duplicate/,
     'one purge per location');

($rc, $out) = nginx_t("sevendigital_redis 127.0.0.1:6379;\n"
                      . in_location('sevendigital_cache_purge choosedigital $uri;'));
is($rc, 0, 'a purge location with a path passes') or diag($out);

($rc, $out) = nginx_t(in_location('sevendigital_endpoint a/*/b catalogue;'));
like($out, qr/invalid endpoint "a\/\*\/b" in "sevendigital_endpoint"/,
     'an endpoint pattern with "*" before its end is refused');

($rc, $out) = nginx_t(in_location('sevendigital_endpoint a/:b cached;'));
like($out, qr/invalid class "cached" in "sevendigital_endpoint"/,
     'an endpoint class is catalogue, user or purchase');

($rc, $out) = nginx_t(in_location('sevendigital_endpoint a/:b user 4-legged;'));
like($out, qr/invalid signing "4-legged" in "sevendigital_endpoint"/,
     'an endpoint signing is off, 2-legged or 3-legged');

# rate limits
for my $case (
    ['sevendigital_rate_limit sales rate=1r/s;',
     qr/invalid class "sales" in "sevendigital_rate_limit", it must be "catalogue", "user" or "purchase"/],
    ['sevendigital_rate_limit user rate=1r/d;',
     qr/invalid parameter "rate=1r\/d" in "sevendigital_rate_limit"/],
    ['sevendigital_rate_limit user burst=4;',
     qr/"sevendigital_rate_limit" needs "rate="/],
    ['sevendigital_rate_limit user rate=1r/s; sevendigital_rate_limit user rate=2r/s;',
     qr/"sevendigital_rate_limit" directive is duplicate/],
    ['sevendigital_rate_limit_refused rate=1r/s burst=x;',
     qr/invalid parameter "burst=x" in "sevendigital_rate_limit_refused"/],
    ['sevendigital_rate_limit_headers sometimes;',
     qr/invalid value "sometimes"/],
) {
    ($rc, $out) = nginx_t(in_location($case->[0]));
    like($out, $case->[1], "refused: $case->[0]");
}

for my $case (
    ['sevendigital_rate_limit_zone limits;',
     qr/invalid zone "limits" in "sevendigital_rate_limit_zone", write it as name:size/],
    ['sevendigital_rate_limit_zone limits:8k;',
     qr/zone "limits:8k" in "sevendigital_rate_limit_zone" is too small, at least \d+ bytes are needed/],
    ['sevendigital_rate_limit_zone limits:1m nodes=0;',
     qr/invalid parameter "nodes=0" in "sevendigital_rate_limit_zone", it must be "nodes=" and a number from 1 to 1000, or "lease=" and a time up to 10m/],
) {
    ($rc, $out) = nginx_t("sevendigital_partners $fx/partners.json;\n$case->[0]");
    like($out, $case->[1], "refused: $case->[0]");
}

($rc, $out) = nginx_t("sevendigital_rate_limit_zone limits:1m nodes=3;\n"
                      . in_location('sevendigital_rate_limit catalogue '
                                    . 'rate=50r/s burst=100; '
                                    . 'sevendigital_rate_limit_refused off; '
                                    . 'sevendigital_rate_limit_headers always;'));
is($rc, 0, 'rate limits, a zone for three nodes, headers always, '
           . 'no per-address limit: loads') or diag($out);

($rc, $out) = nginx_t(in_location('sevendigital_gateway 7digital; '
                                  . 'sevendigital_upstream_key k; '
                                  . "sevendigital_audit_log $dir/audit.log; "
                                  . 'proxy_pass http://127.0.0.1:1;'));
like($out, qr/\[warn\] "sevendigital_gateway" location "\/" uses "proxy_next_upstream" \(by default error and timeout\)/,
     'nginx -t warns where a sale could be sent to a second upstream server');
is($rc, 0, '... and the configuration still loads') or diag($out);

($rc, $out) = nginx_t(in_location('sevendigital_gateway 7digital; '
                                  . 'sevendigital_upstream_key k; '
                                  . "sevendigital_audit_log $dir/audit.log; "
                                  . 'proxy_next_upstream off; '
                                  . 'proxy_pass http://127.0.0.1:1;'));
unlike($out, qr/proxy_next_upstream/, 'no warning with proxy_next_upstream off');

($rc, $out) = nginx_t(in_location('sevendigital_gateway 7digital; '
                                  . 'sevendigital_upstream_key k; '
                                  . "sevendigital_audit_log $dir/audit.log; "
                                  . 'proxy_next_upstream http_502; '
                                  . 'proxy_pass http://127.0.0.1:1;'));
like($out, qr/\[warn\] "sevendigital_gateway" location "\/" uses "proxy_next_upstream"/,
     '... also where it retries after an answer (http_502)');

($rc, $out) = nginx_t(in_location('sevendigital_audit_stream s maxlen=x;'));
like($out, qr/invalid parameter "maxlen=x" in "sevendigital_audit_stream"/,
     'the stream length is a number');

($rc, $out) = nginx_t(in_location('sevendigital_audit_stream s;'));
like($out, qr/"sevendigital_audit_stream" requires "sevendigital_redis"/,
     'a stream needs Redis');

# docs/endpoints.md says what the module's table says
{
    my $o = `$Gateway::Root/tools/endpoints-doc --check 2>&1`;
    is($? >> 8, 0, 'docs/endpoints.md matches the endpoint table') or diag($o);
}

# the shipped configurations load with the built module: the drop-ins
# (conf/conf.d/sevendigital.conf, conf/sites-available/sevendigital-gateway)
# inside Debian's own nginx.conf, a copy of nginx-common's
# /etc/nginx/nginx.conf (t/fixtures/debian-nginx.conf) whose /etc/nginx/
# and /var/log/nginx/ are moved into the test's directory.  Debian's file
# already sets access_log, gzip and ssl_*: a drop-in repeating one of them
# fails here.  t/025-debian-package.t does the same as root with the
# installed package and the machine's real nginx.conf.
{
    my $p = "$dir/debian";
    my $etc = "$p/etc-nginx";
    make_path("$p/log", "$etc/modules-enabled", "$etc/conf.d",
              "$etc/sites-available", "$etc/sites-enabled", "$etc/7digital");

    my %moved = ('/etc/nginx/' => "$etc/", '/var/log/nginx/' => "$p/log/");
    my $install = sub {
        my ($from, $to) = @_;
        open my $in, '<', $from or die "$from: $!";
        my $text = do { local $/; <$in> };
        close $in;
        $text =~ s{\Q$_\E}{$moved{$_}}g for keys %moved;
        write_file($to, $text);
    };

    $install->("$fx/debian-nginx.conf", "$etc/nginx.conf");
    # what the package's dh_nginx link holds, with the module just built
    write_file("$etc/modules-enabled/50-mod-http-7digital.conf",
               "load_module $module;\n");
    write_file("$etc/mime.types", "types { text/html html; }\n");
    $install->("$Gateway::Root/conf/conf.d/sevendigital.conf",
               "$etc/conf.d/sevendigital.conf");
    $install->("$Gateway::Root/conf/sites-available/sevendigital-gateway",
               "$etc/sites-available/sevendigital-gateway");
    symlink "$etc/sites-available/sevendigital-gateway",
            "$etc/sites-enabled/sevendigital-gateway" or die $!;
    copy("$Gateway::Root/conf/7digital/partners.json.example",
         "$etc/7digital/partners.json") or die $!;
    write_file("$etc/7digital/$_", "example-secret\n")
        for qw(7digital.secret choosedigital.secret);

    my $o = `$nginx -t -c $etc/nginx.conf -e $p/log/error.log 2>&1`;
    is($? >> 8, 0, 'the drop-ins pass nginx -t in Debian\'s nginx.conf')
        or diag($o);
    unlike($o, qr/\[(?:warn|emerg)\][^\n]*sevendigital/,
           '... without a warning about the gateway') or diag($o);

    make_path("$Gateway::Root/demo/run");
    $o = `$nginx -t -p $Gateway::Root/ -c conf/demo.conf -e $dir/demo-error.log 2>&1`;
    is($? >> 8, 0, 'conf/demo.conf passes nginx -t') or diag($o);
}

# partner keys travel in the query string: no shipped log format logs it
for my $file ('conf/conf.d/sevendigital.conf', 'conf/demo.conf') {
    open my $fh, '<', "$Gateway::Root/$file" or die "$file: $!";
    my $text = do { local $/; <$fh> };
    close $fh;
    $text =~ s/#[^\n]*//g;
    my @formats = $text =~ /\blog_format\s+([^;]+);/g;
    ok(@formats, "$file has a log_format");
    for my $f (@formats) {
        my ($name) = split ' ', $f;
        unlike($f, qr/\$(?:request|args|query_string|request_uri|request_body|arg_\w+|http_authorization|http_referer)\b/,
               "$file: log_format $name logs no query string, body or "
               . 'credentials');
    }
}

done_testing();
