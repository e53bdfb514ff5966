# Loaded before a memcached test file (perl -MIxMemcachedServer t/X.t): the
# suite's MemcachedTest::new_memcached starts a memcached binary on loopback;
# this one starts ix-memcached instead, with the test's own server arguments,
# through the command in $IX_SUITE_SERVER (PORT ARGS...; it runs ix-memcached
# in the dataplane's namespace), and connects to it at $IX_SUITE_HOST.
#
# With IX_SUITE_SIDE_BY_SIDE=1 (applications attached to one ixd, which serves
# several at once) every call starts its own server on a port of its own, as
# upstream's does, and dropping a handle stops its server. Otherwise (library
# mode, where a dataplane owns its NIC queue) one server runs at a time: a
# call with other arguments stops the running one and starts anew, and a
# call with the same arguments gets a new connection to the running one,
# whose handle stops a placeholder process when dropped, not the server.
package IxMemcachedServer;

use strict;
use warnings;
use Carp qw(croak);
use IO::Socket::INET;
use POSIX ":sys_wait_h";
use MemcachedTest ();

my $live;         # pid of the ix-memcached this test started last
my $live_args;    # and its arguments
my @placeholders; # pids standing in for it in extra handles
my @started;      # every server this test started
my $next_port = $ENV{IX_SUITE_FIRST_PORT} || 11211;  # side by side: ports from here

sub stop_live {
    return unless $live;
    kill 'INT', $live;
    waitpid($live, 0);
    $live = undef;
}

# A process for a handle's DESTROY (SIGINT) to stop instead of the server.
sub placeholder {
    my $pid = fork();
    croak("fork: $!") unless defined $pid;
    if ($pid == 0) {
        sleep 600;
        POSIX::_exit(0);
    }
    push @placeholders, $pid;
    return $pid;
}

{
    no warnings 'redefine';
    *MemcachedTest::new_memcached = sub {
        my ($args, $port) = @_;
        $args = '' unless defined $args;
        $port ||= $next_port;
        my $host = $ENV{IX_SUITE_HOST} or croak("IX_SUITE_HOST is not set");
        my $server = $ENV{IX_SUITE_SERVER} or croak("IX_SUITE_SERVER is not set");
        my $side_by_side = $ENV{IX_SUITE_SIDE_BY_SIDE};
        if ($side_by_side) {
            $port = $next_port++ unless $_[1];
        } elsif ($live && $args eq $live_args && waitpid($live, WNOHANG) == 0) {
            my $conn = IO::Socket::INET->new(PeerAddr => "$host:$port", Timeout => 5)
                or croak("no second connection to ix-memcached at $host:$port: $!");
            return Memcached::Handle->new(pid => placeholder(), conn => $conn,
                                          host => $host, port => $port);
        }
        stop_live() unless $side_by_side;
        my $pid = fork();
        croak("fork: $!") unless defined $pid;
        if ($pid == 0) {
            exec($server, $port, split(' ', $args)) or POSIX::_exit(127);
        }
        $live = $pid;
        $live_args = $args;
        push @started, $pid;
        for (1 .. 100) {
            my $conn = IO::Socket::INET->new(PeerAddr => "$host:$port", Timeout => 1);
            if ($conn) {
                return Memcached::Handle->new(pid => $pid, conn => $conn,
                                              host => $host, port => $port);
            }
            if (waitpid($pid, WNOHANG) != 0) {
                $live = undef;
                # upstream's wording, which tests match (item_size_max.t)
                croak("Failed to start: ix-memcached exited at start-up (server arguments: '$args')");
            }
            select undef, undef, undef, 0.1;
        }
        croak("ix-memcached did not accept a connection at $host:$port within 10 s");
    };
}

END {
    local $?;    # the test's exit status, which waitpid would overwrite
    stop_live();
    for my $pid (@started) {
        kill 'INT', $pid;
        waitpid($pid, 0);
    }
    for my $pid (@placeholders) {
        kill 'TERM', $pid;
        waitpid($pid, 0);
    }
}

1;
