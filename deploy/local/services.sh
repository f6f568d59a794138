#!/usr/bin/env bash
# Makes sure the two services docsync needs answer on this machine, for development and CI:
#
#   PostgreSQL  127.0.0.1:5432  user postgres, no password
#   RabbitMQ    127.0.0.1:5672  guest/guest
#
# and that the headless browser the status page's test (tests/tests/ui.rs) drives is there:
# Debian's chromium and chromium-driver (chromedriver), installed when either is missing; and
# Debian's faketime (libfaketime), for the test that runs one API process with its clock off.
#
# A service whose port already answers is left alone (a Debian package, `docker compose up -d
# postgres rabbitmq`, anything). Otherwise the Debian package is installed if missing and the
# service is started directly (no systemd needed: containers, CI runners). Needs root (or sudo)
# only when something has to be installed or started. Idempotent and quiet unless it acts.
#
# SECURITY: on the install/start path this makes PostgreSQL trust every TCP connection from
# 127.0.0.1 and ::1 (no password). That is meant for throwaway dev and CI machines only. Never
# run it on a machine that other people or untrusted processes share.
set -euo pipefail

readonly PG_PORT=5432
readonly AMQP_PORT=5672
readonly WAIT_SECONDS=60
# rabbitmq-server, rabbitmqctl and friends live in sbin, which a non-root PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"
readonly HBA_MARKER="# docsync dev/CI (deploy/local/services.sh): trust loopback TCP, no password"

log() { echo "services.sh: $*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_answers() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# Waits up to $2 seconds for port $1; $3 names the service for the error message.
wait_for_port() {
    local port=$1 seconds=$2 what=$3 deadline
    deadline=$((SECONDS + seconds))
    until port_answers "$port"; do
        if ((SECONDS >= deadline)); then
            die "$what did not come up: nothing answers on 127.0.0.1:$port after ${seconds}s${4:-}"
        fi
        sleep 1
    done
}

# Runs a command as root: directly, through sudo, or fails saying why.
as_root() {
    if ((EUID == 0)); then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (run this script as root, or start the service yourself)"
    fi
}

APT_UPDATED=0
# Installs Debian package $1 unless it is installed already.
ensure_package() {
    local pkg=$1
    if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        return 0
    fi
    command -v apt-get >/dev/null 2>&1 ||
        die "$pkg is not installed and apt-get is missing: install $pkg yourself (or run docker compose up -d postgres rabbitmq)"
    if ((APT_UPDATED == 0)); then
        log "apt-get update"
        as_root apt-get update -qq </dev/null || die "apt-get update failed"
        APT_UPDATED=1
    fi
    log "installing $pkg"
    # The package scripts may try to start the service; that is fine, we check the port after.
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" </dev/null ||
        die "apt-get install $pkg failed"
}

# --- PostgreSQL ------------------------------------------------------------------------------

# Puts the trust lines first in pg_hba.conf (first match wins); sets PG_HBA_CHANGED=1 when it
# edited the file.
PG_HBA_CHANGED=0
ensure_pg_trust() {
    local hba=$1 tmp
    PG_HBA_CHANGED=0
    as_root test -f "$hba" || die "PostgreSQL: $hba not found"
    if as_root grep -qF "$HBA_MARKER" "$hba"; then
        return 0
    fi
    log "PostgreSQL: adding loopback trust lines to $hba (dev/CI only)"
    tmp=$(mktemp)
    {
        echo "$HBA_MARKER"
        echo "host    all             all             127.0.0.1/32            trust"
        echo "host    all             all             ::1/128                 trust"
        echo
        as_root cat "$hba" || die "PostgreSQL: cannot read $hba"
    } >"$tmp"
    # cat into the existing file keeps its owner and mode.
    # shellcheck disable=SC2016 # $1 and $2 are the inner shell's arguments
    as_root sh -c 'cat "$1" > "$2"' sh "$tmp" "$hba" || die "PostgreSQL: cannot write $hba"
    rm -f "$tmp"
    PG_HBA_CHANGED=1
}

ensure_postgres() {
    if port_answers "$PG_PORT"; then
        return 0
    fi
    log "PostgreSQL: nothing answers on 127.0.0.1:$PG_PORT; setting it up"
    if ! command -v pg_lsclusters >/dev/null 2>&1 || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
        ensure_package postgresql
    fi
    # The package's own scripts may have started it already.
    if port_answers "$PG_PORT"; then
        ensure_pg_trust_for_running
        return 0
    fi

    # Columns: version cluster port status owner data-dir log-file
    local version cluster status
    read -r version cluster _ status _ < <(pg_lsclusters -h | awk -v p="$PG_PORT" '$3 == p' | head -n1) || true
    if [[ -z ${version:-} ]]; then
        if [[ -n $(pg_lsclusters -h) ]]; then
            die "PostgreSQL: clusters exist but none uses port $PG_PORT (see pg_lsclusters); move one to $PG_PORT or start PostgreSQL yourself"
        fi
        # The newest installed server (pg_createcluster needs its binaries).
        # shellcheck disable=SC2012 # directory names are version numbers
        version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -n1 || true)
        [[ -n $version ]] || die "PostgreSQL: no server version found under /usr/lib/postgresql"
        cluster=main
        status=down
        log "PostgreSQL: creating cluster $version/$cluster on port $PG_PORT"
        as_root pg_createcluster --port "$PG_PORT" "$version" "$cluster" >/dev/null ||
            die "PostgreSQL: pg_createcluster $version $cluster failed"
    fi

    ensure_pg_trust "/etc/postgresql/$version/$cluster/pg_hba.conf"
    if [[ $status == online* ]]; then
        # Running but not answering on loopback TCP yet: apply our pg_hba lines, wait below.
        if ((PG_HBA_CHANGED)); then
            as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" reload ||
                die "PostgreSQL: reload of $version/$cluster failed"
        fi
    else
        log "PostgreSQL: starting cluster $version/$cluster"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start ||
            die "PostgreSQL did not start: see /var/log/postgresql/postgresql-$version-$cluster.log"
    fi
    wait_for_port "$PG_PORT" "$WAIT_SECONDS" PostgreSQL \
        " (see /var/log/postgresql/postgresql-$version-$cluster.log; listen_addresses must include localhost)"
    check_pg_login
}

# After the package scripts started a server for us: make sure our trust lines are in.
ensure_pg_trust_for_running() {
    local version cluster
    read -r version cluster _ < <(pg_lsclusters -h | awk -v p="$PG_PORT" '$3 == p' | head -n1) || true
    [[ -n ${version:-} ]] || return 0
    ensure_pg_trust "/etc/postgresql/$version/$cluster/pg_hba.conf"
    if ((PG_HBA_CHANGED)); then
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" reload ||
            die "PostgreSQL: reload of $version/$cluster failed"
    fi
    check_pg_login
}

check_pg_login() {
    command -v psql >/dev/null 2>&1 || return 0
    for _ in 1 2 3 4 5; do
        if psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -w -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
            log "PostgreSQL: ready on 127.0.0.1:$PG_PORT (user postgres, no password)"
            return 0
        fi
        sleep 1
    done
    die "PostgreSQL answers on 127.0.0.1:$PG_PORT but user postgres cannot log in without a password: check pg_hba.conf"
}

# --- RabbitMQ --------------------------------------------------------------------------------

ensure_rabbitmq() {
    if port_answers "$AMQP_PORT"; then
        return 0
    fi
    log "RabbitMQ: nothing answers on 127.0.0.1:$AMQP_PORT; setting it up"
    if ! command -v rabbitmq-server >/dev/null 2>&1 && [[ ! -x /usr/sbin/rabbitmq-server ]]; then
        ensure_package rabbitmq-server
    fi
    if port_answers "$AMQP_PORT"; then
        log "RabbitMQ: ready on 127.0.0.1:$AMQP_PORT"
        return 0
    fi
    # Erlang node names need a resolvable host name; containers often lack one. Only when no
    # node name is configured, and only for processes started from here.
    if [[ -z ${RABBITMQ_NODENAME:-} ]] &&
        ! grep -qs '^NODENAME=' /etc/rabbitmq/rabbitmq-env.conf &&
        ! getent hosts "$(hostname -s 2>/dev/null || echo localhost)" >/dev/null 2>&1; then
        export RABBITMQ_NODENAME=rabbit@localhost
    fi

    log "RabbitMQ: starting (rabbitmq-server -detached)"
    as_root env ${RABBITMQ_NODENAME:+RABBITMQ_NODENAME=$RABBITMQ_NODENAME} \
        rabbitmq-server -detached </dev/null >/dev/null 2>&1 ||
        die "RabbitMQ did not start: see /var/log/rabbitmq/"
    local deadline=$((SECONDS + WAIT_SECONDS))
    # await_startup fails at once while the Erlang node is not registered yet, so retry.
    until as_root env ${RABBITMQ_NODENAME:+RABBITMQ_NODENAME=$RABBITMQ_NODENAME} \
        rabbitmqctl -q await_startup -t 10 </dev/null >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            die "RabbitMQ did not come up within ${WAIT_SECONDS}s (rabbitmqctl await_startup failed): see /var/log/rabbitmq/"
        fi
        sleep 2
    done
    wait_for_port "$AMQP_PORT" 30 RabbitMQ " (the node runs: check listeners.tcp in /etc/rabbitmq/rabbitmq.conf)"
    if ! as_root env ${RABBITMQ_NODENAME:+RABBITMQ_NODENAME=$RABBITMQ_NODENAME} \
        rabbitmqctl -q authenticate_user guest guest </dev/null >/dev/null 2>&1; then
        die "RabbitMQ answers on 127.0.0.1:$AMQP_PORT but guest/guest cannot log in (rabbitmqctl add_user guest guest; set_permissions guest '.*' '.*' '.*')"
    fi
    log "RabbitMQ: ready on 127.0.0.1:$AMQP_PORT (guest/guest)"
}

# --- Headless browser for the status page's test ------------------------------------------------

ensure_browser() {
    if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
        return 0
    fi
    log "browser: chromium or chromedriver missing (the status page's test drives them)"
    ensure_package chromium
    ensure_package chromium-driver
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 ||
        die "browser: chromium and chromedriver are still not on PATH after installing chromium chromium-driver"
    log "browser: $(chromedriver --version 2>/dev/null | cut -d' ' -f1-2) ready"
}

# --- libfaketime for the ledger's clock-skew test -------------------------------------------------

FAKETIME_LIB=/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1

ensure_faketime() {
    [[ -e "$FAKETIME_LIB" ]] && return 0
    log "faketime: missing (a test runs one process with its clock 2 s off)"
    ensure_package faketime
    [[ -e "$FAKETIME_LIB" ]] || die "faketime: $FAKETIME_LIB is still missing after installing faketime"
    log "faketime: ready"
}

ensure_postgres
ensure_rabbitmq
ensure_browser
ensure_faketime
