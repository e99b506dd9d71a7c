#!/usr/bin/env bash
# Installs the Debian packages that the end-to-end tests (crates/rvs-testnet), the demo and
# the benchmarks need, and only those that are missing: with everything present this does
# no apt work at all and returns in well under a second.
#
# nginx and haproxy are packaged as system services whose postinst starts a daemon on
# port 80 in the root namespace. The tests run their own nginx per namespace, and a stray
# system daemon would both hold port 80 and answer probes meant for the director, so the
# install runs behind a policy-rc.d that forbids starting services, and any daemon that got
# started anyway (an earlier install, systemd's own handling) is stopped and disabled.
set -euo pipefail

# package -> a command that proves it is installed (checked with `command -v`), or "-" to
# ask dpkg instead (header-only and library packages have no command).
declare -A PROBE=(
    [clang]=clang
    [iproute2]=ip
    [ethtool]=ethtool
    [nftables]=nft
    [nginx-light]=nginx
    [curl]=curl
    [apache2-utils]=ab
    [wrk]=wrk
    [haproxy]=haproxy
    [iputils-ping]=ping
    [procps]=ps
    [psmisc]=killall
    [tcpdump]=tcpdump
    # keepalived's samples and man page: the parser's test reads every sample.
    [keepalived]=keepalived
    # setpriv (the not-root refusal test).
    [util-linux]=setpriv
)

# Looks in the sbin directories too: a non-root PATH often lacks them.
has_cmd() {
    PATH="$PATH:/usr/sbin:/sbin:/usr/local/sbin" command -v "$1" >/dev/null 2>&1
}

has_pkg() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

missing=()
for pkg in "${!PROBE[@]}"; do
    probe="${PROBE[$pkg]}"
    if [[ "$probe" == "-" ]]; then
        has_pkg "$pkg" || missing+=("$pkg")
    elif ! has_cmd "$probe"; then
        # nginx-light is gone from newer Debian releases; any nginx flavour serves the tests.
        if [[ "$pkg" == nginx-light ]] && has_pkg nginx; then continue; fi
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "deps.sh: all packages present"
    exit 0
fi

if ((EUID != 0)); then
    echo "deps.sh: missing packages: ${missing[*]}" >&2
    echo "deps.sh: run as root (sudo $0) to install them" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

# Forbid service starts during the install unless the machine already has a policy
# (Docker images ship one that does the same); ours is removed again on any exit.
policy=/usr/sbin/policy-rc.d
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# installed by rvs scripts/deps.sh for the duration of an install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

echo "deps.sh: installing ${missing[*]}"
apt-get update -qq

# Prefer nginx-light, but fall back to nginx where the light flavour no longer exists.
for i in "${!missing[@]}"; do
    if [[ "${missing[$i]}" == nginx-light ]] && ! apt-cache show nginx-light >/dev/null 2>&1; then
        missing[$i]=nginx
    fi
done

apt-get install -y --no-install-recommends "${missing[@]}"

# Whatever the policy prevented or not, leave no system nginx/haproxy/keepalived running or
# enabled.
# The packages enable their systemd units even on a machine that runs without systemd (a
# container), so disable those links too: `systemctl disable` works offline.
for svc in nginx haproxy keepalived; do
    if has_cmd systemctl; then
        if [[ -d /run/systemd/system ]]; then
            systemctl disable --now "$svc" >/dev/null 2>&1 || true
        else
            systemctl disable "$svc" >/dev/null 2>&1 || true
        fi
    fi
    if [[ -x "/etc/init.d/$svc" ]]; then
        service "$svc" stop >/dev/null 2>&1 || true
        update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
done

echo "deps.sh: done"
