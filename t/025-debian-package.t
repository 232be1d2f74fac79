# The Debian package (docs/deployment.md): `make deb` builds it with
# nginx-dev's dh_nginx, `dpkg -i` installs the module where Debian's nginx
# modules go and enables it as Debian's libnginx-mod-* packages are
# enabled, the package depends on the nginx ABI it was built for, and the
# project's drop-ins (conf/conf.d/, conf/sites-available/) pass `nginx -t`
# inside a copy of this machine's /etc/nginx, Debian's nginx.conf as it is.
#
# Runs as root on a machine with dpkg-buildpackage, debhelper and
# nginx-dev, and where the package is not installed; skipped otherwise.  It
# changes nothing in /etc/nginx but what dpkg does, and purges the package
# at the end, which also removes what dpkg added there.  Installing and
# purging run nginx's dpkg trigger: a system nginx that is running is
# reloaded, twice.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Gateway;
use Test::More;
use File::Temp qw(tempdir);
use File::Find qw(find);
use File::Copy qw(copy);
use Digest::MD5;

my $Pkg = 'libnginx-mod-http-7digital';
my $So = '/usr/lib/nginx/modules/ngx_http_7digital_module.so';
my $Available = '/usr/share/nginx/modules-available/mod-http-7digital.conf';
my $Enabled = '/etc/nginx/modules-enabled/50-mod-http-7digital.conf';
my $Root = $Gateway::Root;

plan skip_all => 'needs root: installs the package with dpkg -i' if $> != 0;
for my $tool (qw(/usr/bin/dpkg /usr/bin/dpkg-buildpackage /usr/bin/dh
                 /usr/bin/dh_nginx /usr/bin/make /usr/sbin/nginx)) {
    plan skip_all => "needs $tool (bin/install-deps installs debhelper, "
                     . 'dpkg-dev, nginx and nginx-dev)'
        unless -x $tool;
}
plan skip_all => "needs Debian's /etc/nginx/nginx.conf"
    unless -f '/etc/nginx/nginx.conf';

# the machine is to be left as it was: a package installed before is not
# ours to replace and remove
my $Before = installed_version();
plan skip_all => "$Pkg $Before is installed; this test installs its own "
                 . 'build and purges it afterwards'
    if defined $Before;

my $tmp = tempdir('sevendigital-deb-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# runs a shell command; returns (exit status, stdout and stderr)
sub run {
    my ($cmd) = @_;
    my $out = `$cmd 2>&1`;
    return ($? >> 8, $out);
}

# the package's version if dpkg has it installed, undef otherwise
sub installed_version {
    my $out = `dpkg-query -W -f='\${Status}|\${Version}' $Pkg 2>/dev/null`;
    return $out =~ /^install ok installed\|(.+)$/ ? $1 : undef;
}

# what /etc/nginx holds: each path with its type, mode, and link target or
# content digest, to show that the test leaves it as it found it
sub snapshot {
    my %s;
    find({ no_chdir => 1, wanted => sub {
        my @st = lstat $_ or return;
        my $what = sprintf '%o', $st[2];
        if (-l _) {
            $what .= ' -> ' . readlink $_;
        } elsif (-f _) {
            open my $fh, '<', $_ or return;
            binmode $fh;
            $what .= ' ' . Digest::MD5->new->addfile($fh)->hexdigest;
            close $fh;
        }
        $s{$_} = $what;
    } }, '/etc/nginx');
    return \%s;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or return undef;
    local $/;
    my $text = <$fh>;
    close $fh;
    return $text;
}

sub last_lines {
    my ($text, $n) = @_;
    my @lines = split /\n/, $text // '';
    return join "\n", @lines > $n ? @lines[-$n .. -1] : @lines;
}

my $etc_before = snapshot();

# --- build: make deb, with its output in the test's directory, so that a
# build/deb/ of the developer's own is left alone

my ($rc, $out) = run("make -C $Root deb BUILD=$tmp/build");
is($rc, 0, 'make deb builds the package')
    or diag(last_lines($out, 40));

my (undef, $version) = run("dpkg-parsechangelog -l $Root/debian/changelog -S Version");
my (undef, $arch) = run('dpkg --print-architecture');
s/\s+\z// for $version, $arch;
my $deb = "$tmp/build/deb/${Pkg}_${version}_${arch}.deb";
ok(-f $deb, "the package is named for debian/changelog's version: "
            . "${Pkg}_${version}_${arch}.deb")
    or diag(join "\n", 'build/deb/ holds:', glob "$tmp/build/deb/*");

if (!-f $deb) {
    done_testing();
    exit;
}

# --- install

my $installed = 0;

# dpkg -r would leave 50-mod-http-7digital.conf.removed in
# /etc/nginx/modules-enabled (dh_nginx's prerm moves the link aside to
# remember that it was enabled); only a purge removes it
sub purge {
    my ($rc, $out) = run("dpkg --purge $Pkg");
    $installed = 0 if $rc == 0;
    return ($rc, $out);
}

END {
    local $?;    # a failing purge here must not change the test's status
    purge() if $installed;
}

# purged at the end whatever state dpkg -i leaves it in
$installed = 1;
($rc, $out) = run("dpkg -i $deb");
is($rc, 0, 'dpkg -i installs it') or diag($out);

ok(-f $So, "the module is in /usr/lib/nginx/modules/");
($rc, $out) = run("dpkg -L $Pkg");
like($out, qr/^\Q$So\E$/m, '... and belongs to the package');

like(slurp($Available) // '',
     qr/^load_module modules\/ngx_http_7digital_module\.so;$/m,
     "$Available loads it");
is(readlink($Enabled), $Available,
   "$Enabled links to it, as dh_nginx's postinst does");

($rc, $out) = run("dpkg -s $Pkg");
my ($depends) = $out =~ /^Depends: (.*)$/m;
$depends //= '';
my %dep = map { /^\s*(\S+)/ ? ($1 => 1) : () } split /,/, $depends;
my @abi = grep { /^nginx-abi-/ } keys %dep;
is(scalar @abi, 1, 'it depends on one nginx ABI') or diag("Depends: $depends");

my ($abi_built) = (slurp('/usr/share/nginx/src/debian/libnginx-mod.abisubstvars')
                   // '') =~ /^nginx:abi=(\S+)/m;
is($abi[0], $abi_built, "... the one nginx-dev built it for ($abi_built)")
    if defined $abi_built;
($rc, $out) = run('dpkg -s nginx');
my ($provides) = $out =~ /^Provides: (.*)$/m;
like($provides // '', qr/(?:^|,\s*)\Q$abi[0]\E(?:,|$)/,
     "... which the installed nginx provides")
    if @abi;

for my $lib (qw(libhiredis0.14 libjansson4 libssl3)) {
    ok($dep{$lib}, "it depends on $lib") or diag("Depends: $depends");
}

# --- the drop-ins in a copy of /etc/nginx, with the package's link in it

my $etc = "$tmp/etc-nginx";
my $log = "$tmp/log";
($rc, $out) = run("cp -a /etc/nginx $etc && mkdir $log");
is($rc, 0, 'a copy of /etc/nginx') or diag($out);

# Debian's nginx.conf as it is, but for its /etc/nginx/ and /var/log/nginx/,
# moved into the copy; the drop-ins' own logs too
my %moved = ('/etc/nginx/' => "$etc/", '/var/log/nginx/' => "$log/");
sub install_moved {
    my ($from, $to) = @_;
    my $text = slurp($from);
    die "$from: $!" unless defined $text;
    $text =~ s{\Q$_\E}{$moved{$_}}g for keys %moved;
    open my $fh, '>', $to or die "$to: $!";
    print $fh $text;
    close $fh;
}

install_moved('/etc/nginx/nginx.conf', "$etc/nginx.conf");
install_moved("$Root/conf/conf.d/sevendigital.conf",
              "$etc/conf.d/sevendigital.conf");
install_moved("$Root/conf/sites-available/sevendigital-gateway",
              "$etc/sites-available/sevendigital-gateway");
unlink "$etc/sites-enabled/sevendigital-gateway";
symlink "$etc/sites-available/sevendigital-gateway",
        "$etc/sites-enabled/sevendigital-gateway" or die $!;

# the files the drop-ins expect, root-only as docs/deployment.md says
mkdir "$etc/7digital", 0700;
copy("$Root/conf/7digital/partners.json.example",
     "$etc/7digital/partners.json") or die $!;
for my $secret (qw(7digital.secret choosedigital.secret)) {
    open my $fh, '>', "$etc/7digital/$secret" or die $!;
    print $fh "example-secret\n";
    close $fh;
}
chmod 0600, glob "$etc/7digital/*";

my $nginx_t = "nginx -t -c $etc/nginx.conf -e $log/error.log";
($rc, $out) = run($nginx_t);
is($rc, 0, "Debian's nginx.conf with the drop-ins passes nginx -t")
    or diag($out);
like($out, qr/test is successful/, '... test is successful');
unlike($out, qr/\[(?:warn|emerg)\][^\n]*sevendigital/,
       '... without a warning about the gateway') or diag($out);

# the directives are known through the package's link, and only through it
rename "$etc/modules-enabled/50-mod-http-7digital.conf", "$tmp/link"
    or die $!;
($rc, $out) = run($nginx_t);
like($out, qr/unknown directive "sevendigital_partners"/,
     'without the modules-enabled link the module is not loaded');

# --- purge: the machine as it was

($rc, $out) = purge();
is($rc, 0, 'dpkg --purge removes it') or diag($out);
ok(!defined installed_version(), '... it is no longer installed');
ok(!-e $So, '... nor is the module');
ok(!-e $Enabled && !-l $Enabled && !-l "$Enabled.removed",
   '... nor its link in /etc/nginx/modules-enabled');
is_deeply(snapshot(), $etc_before, '/etc/nginx is as it was before the test');

done_testing();
