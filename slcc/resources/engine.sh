#!/usr/bin/env bash
# slcc engine bootstrap: Docker Engine (containerd image store) + buildx + a local registry.
#
#   bash slcc/resources/engine.sh [up|status|down]     (default: up)
#
# up     Reuse whatever already answers (docker info + docker buildx version, registry /v2/).
#        Only when something is missing: install docker.io, docker-buildx, containerd and
#        docker-registry from Debian trixie (pinned at priority 100 so nothing else upgrades),
#        then start containerd, dockerd and the registry on 127.0.0.1:5000.
# status Print what is running.
# down   Stop what this script started (pid files in /run/slcc-engine/).
#
# Idempotent; run as root on Debian/Ubuntu. Environment overrides:
#   SLCC_REGISTRY_ADDR   (default 127.0.0.1:5000)   must be a loopback address
#   SLCC_ENGINE_TIMEOUT  (default 60)               seconds to wait for each daemon
#   SLCC_ENGINE_RUN_DIR, SLCC_ENGINE_LOG_DIR, SLCC_ENGINE_CONFIG_DIR, SLCC_REGISTRY_STORAGE
#                        defaults: /run/slcc-engine, /var/log/slcc-engine, /etc/slcc-engine,
#                        /var/lib/slcc-registry
#
# Sourcing it (tests) only defines the functions and settings; the action runs when executed.

REGISTRY_ADDR="${SLCC_REGISTRY_ADDR:-127.0.0.1:5000}"
TIMEOUT="${SLCC_ENGINE_TIMEOUT:-60}"
RUN_DIR="${SLCC_ENGINE_RUN_DIR:-/run/slcc-engine}"
LOG_DIR="${SLCC_ENGINE_LOG_DIR:-/var/log/slcc-engine}"
REGISTRY_DIR="${SLCC_REGISTRY_STORAGE:-/var/lib/slcc-registry}"
REGISTRY_CONFIG="${SLCC_ENGINE_CONFIG_DIR:-/etc/slcc-engine}/registry.yml"
DAEMON_JSON=/etc/docker/daemon.json
CONTAINERD_SOCK=/run/containerd/containerd.sock
TRIXIE_SOURCES=/etc/apt/sources.list.d/slcc-trixie.sources
TRIXIE_PREFS=/etc/apt/preferences.d/slcc-trixie
POLICY_RC=/usr/sbin/policy-rc.d
OS_RELEASE=/etc/os-release
# Debian's docker-buildx installs the plugin here; the docker CLI may look elsewhere.
DEB_PLUGIN=/usr/libexec/docker/cli-plugins/docker-buildx
export PATH="$PATH:/usr/sbin:/sbin:/usr/bin:/bin"

log() { echo "engine: $*"; }
die() { echo "engine: ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------- probes
docker_ok() { timeout 10 docker info >/dev/null 2>&1; }
buildx_ok() { timeout 10 docker buildx version >/dev/null 2>&1; }
containerd_ok() {
    [ -S "$CONTAINERD_SOCK" ] || return 1
    if command -v ctr >/dev/null 2>&1; then
        timeout 5 ctr --address "$CONTAINERD_SOCK" version >/dev/null 2>&1
    else
        return 0
    fi
}
registry_ok() {
    local code
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$REGISTRY_ADDR/v2/" 2>/dev/null) || return 1
    [ "$code" = 200 ] || [ "$code" = 401 ]
}

pid_alive() { [ -f "$RUN_DIR/$1.pid" ] && kill -0 "$(cat "$RUN_DIR/$1.pid")" 2>/dev/null; }

wait_for() { # wait_for NAME LOGFILE PIDNAME CHECK...
    local name=$1 logf=$2 pidname=$3; shift 3
    local deadline=$((SECONDS + TIMEOUT))
    until "$@"; do
        if [ -n "$pidname" ] && ! pid_alive "$pidname"; then
            echo "---- last lines of $logf:" >&2; tail -n 20 "$logf" >&2 || true
            die "$name exited during startup; read $logf"
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "---- last lines of $logf:" >&2; tail -n 20 "$logf" >&2 || true
            die "$name did not answer within ${TIMEOUT}s; read $logf"
        fi
        sleep 0.5
    done
}

start_bg() { # start_bg NAME LOGFILE CMD...  (detached, survives this shell)
    local name=$1 logf=$2; shift 2
    mkdir -p "$RUN_DIR" "$LOG_DIR"
    echo "==== $(date -Is) starting: $*" >>"$logf"
    setsid nohup "$@" >>"$logf" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/$name.pid"
}

# ---------------------------------------------------------------------------- install
require_root_and_apt() {
    [ "$(id -u)" = 0 ] || die "must run as root to install/start the engine (try: sudo bash $0 up)"
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script installs only on Debian/Ubuntu; install Docker >= 24 with buildx >= 0.13 yourself, then rerun"
}

# The host's Debian codename (bookworm, trixie, ...), empty when unknown.
host_codename() {
    [ -r "$OS_RELEASE" ] || return 0
    # shellcheck disable=SC1090  # the path is a setting
    (. "$OS_RELEASE" && echo "${VERSION_CODENAME:-}")
}

# Whether the host's own suites carry the packages (trixie and later): then no extra source.
host_has_packages() {
    case "$(host_codename)" in
        trixie|forky|sid) return 0 ;;
        *) return 1 ;;
    esac
}

# write_atomically FILE: stdin to FILE via a temp file in the same directory, so apt never
# reads half a file (and an interrupted write leaves the old one or none).
write_atomically() {
    local target=$1 tmp
    tmp=$(mktemp "$target.XXXXXX")
    if ! cat >"$tmp"; then rm -f "$tmp"; return 1; fi
    chmod 0644 "$tmp"
    mv -f "$tmp" "$target"
}

add_trixie_source() {
    if [ ! -f "$TRIXIE_SOURCES" ]; then
        log "adding Debian trixie apt source ($TRIXIE_SOURCES), pinned at priority 100"
        local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
        {
            echo "Types: deb"
            echo "URIs: http://deb.debian.org/debian"
            echo "Suites: trixie"
            echo "Components: main"
            if [ -f "$keyring" ]; then echo "Signed-By: $keyring"; fi
        } | write_atomically "$TRIXIE_SOURCES"
    fi
    if [ ! -f "$TRIXIE_PREFS" ]; then
        write_atomically "$TRIXIE_PREFS" <<'EOF'
# Added by slcc engine.sh: trixie packages are only installed when asked for explicitly
# (pkg/trixie); nothing already installed is upgraded from trixie.
Package: *
Pin: release n=trixie
Pin-Priority: 100
EOF
    fi
}

# without_service_start CMD...: run CMD with a policy-rc.d that stops packages from starting
# services, removed again however CMD ends (a failure, die, Ctrl-C).
without_service_start() {
    if [ -e "$POLICY_RC" ]; then "$@"; return; fi
    printf '#!/bin/sh\nexit 101\n' | write_atomically "$POLICY_RC"
    chmod +x "$POLICY_RC"
    POLICY_RC_CREATED=$POLICY_RC
    trap 'rm -f "$POLICY_RC_CREATED"' EXIT
    trap 'rm -f "$POLICY_RC_CREATED"; exit 130' INT
    trap 'rm -f "$POLICY_RC_CREATED"; exit 143' TERM
    local rc=0
    "$@" || rc=$?
    rm -f "$POLICY_RC"
    trap - EXIT INT TERM
    return "$rc"
}

install_packages() {
    local pkgs=("$@") specs=() p from=trixie
    if host_has_packages; then
        from="the host's own suites ($(host_codename))"
        specs=("${pkgs[@]}")
    else
        for p in "${pkgs[@]}"; do specs+=("$p/trixie"); done
        add_trixie_source
    fi
    log "apt-get update"
    apt-get update -q >"$LOG_DIR/apt-update.log" 2>&1 || { tail -n 20 "$LOG_DIR/apt-update.log" >&2; die "apt-get update failed; read $LOG_DIR/apt-update.log"; }

    # Dry run first: refuse if anything already installed would be upgraded or removed
    # (e.g. libc6 from trixie), or if unrequested packages would come from trixie.
    local sim
    sim=$(DEBIAN_FRONTEND=noninteractive apt-get -s install --no-install-recommends "${specs[@]}" 2>&1) \
        || { echo "$sim" >&2; die "apt-get cannot resolve ${specs[*]}"; }
    local upgrades removals extra_trixie
    upgrades=$(grep -E '^Inst [^ ]+ \[' <<<"$sim" | grep -vE "^Inst ($(IFS='|'; echo "${pkgs[*]}")) " || true)
    removals=$(grep -E '^Remv ' <<<"$sim" || true)
    extra_trixie=""
    if ! host_has_packages; then  # on trixie itself every dependency comes from trixie
        extra_trixie=$(grep -E '^Inst ' <<<"$sim" | grep -E 'Debian:13|/stable|trixie' \
            | grep -vE "^Inst ($(IFS='|'; echo "${pkgs[*]}")) " || true)
    fi
    if [ -n "$upgrades$removals$extra_trixie" ]; then
        echo "$sim" >"$LOG_DIR/apt-simulate.log"
        [ -n "$upgrades" ] && { echo "would upgrade:" >&2; echo "$upgrades" >&2; }
        [ -n "$removals" ] && { echo "would remove:" >&2; echo "$removals" >&2; }
        [ -n "$extra_trixie" ] && { echo "would pull from trixie:" >&2; echo "$extra_trixie" >&2; }
        die "installing ${specs[*]} would change other packages (see $LOG_DIR/apt-simulate.log); refusing"
    fi
    grep -E '^Inst ' <<<"$sim" | sed -E 's/^Inst ([^ ]+) .*\(([^ ]+) .*/engine:   + \1 \2/'

    # No service autostart during install (no systemd here; harmless with systemd too).
    log "installing ${pkgs[*]} from $from (log: $LOG_DIR/apt-install.log)"
    local t0=$SECONDS rc=0
    without_service_start env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "${specs[@]}" >"$LOG_DIR/apt-install.log" 2>&1 || rc=$?
    [ "$rc" = 0 ] || { tail -n 30 "$LOG_DIR/apt-install.log" >&2; die "apt-get install failed; read $LOG_DIR/apt-install.log"; }
    log "installed in $((SECONDS - t0))s"
    # Debian may have started services via a real systemd; we manage our own daemons only
    # when those did not come up, so nothing to do here.
}

ensure_installed() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v containerd >/dev/null 2>&1 || missing+=(containerd)
    command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
    buildx_ok || [ -x "$DEB_PLUGIN" ] || missing+=(docker-buildx)
    # trixie's docker.io no longer ships the CLI (docker-cli); only add it if there is none.
    command -v docker >/dev/null 2>&1 || missing+=(docker-cli)
    if [ "${#missing[@]}" -gt 0 ]; then
        require_root_and_apt
        install_packages "${missing[@]}"
    else
        log "dockerd, containerd, docker-registry and buildx are installed; installing nothing"
    fi
}

# The docker CLI searches ~/.docker/cli-plugins, /usr/local/lib/docker/cli-plugins,
# /usr/local/libexec/docker/cli-plugins, /usr/lib/docker/cli-plugins and
# /usr/libexec/docker/cli-plugins. Link the Debian plugin into /usr/local/lib as well, in case
# the CLI in PATH was built with a different search list.
ensure_buildx_plugin() {
    buildx_ok && return 0
    if [ -x "$DEB_PLUGIN" ]; then
        mkdir -p /usr/local/lib/docker/cli-plugins
        ln -sf "$DEB_PLUGIN" /usr/local/lib/docker/cli-plugins/docker-buildx
        log "linked buildx plugin into /usr/local/lib/docker/cli-plugins"
    fi
    buildx_ok || die "'docker buildx version' fails ($(docker buildx version 2>&1 | head -n1)); the buildx plugin is not found by $(command -v docker)"
}

# ---------------------------------------------------------------------------- config
write_daemon_json() {
    mkdir -p "$(dirname "$DAEMON_JSON")"
    python3 - "$DAEMON_JSON" <<'EOF'
import json, os, sys
path = sys.argv[1]
data = {}
if os.path.exists(path) and os.path.getsize(path) > 0:
    with open(path) as f:
        data = json.load(f)
feats = data.setdefault("features", {})
if feats.get("containerd-snapshotter") is True:
    sys.exit(0)
feats["containerd-snapshotter"] = True
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(data, f, indent=2)
    f.write("\n")
os.replace(tmp, path)
print(f"engine: wrote {path} (containerd-snapshotter: true)")
EOF
}

write_registry_config() {
    mkdir -p "$(dirname "$REGISTRY_CONFIG")" "$REGISTRY_DIR"
    cat >"$REGISTRY_CONFIG.tmp" <<EOF
# Written by slcc engine.sh
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $REGISTRY_DIR
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: $REGISTRY_ADDR
health:
  storagedriver:
    enabled: false
EOF
    mv "$REGISTRY_CONFIG.tmp" "$REGISTRY_CONFIG"
}

# ---------------------------------------------------------------------------- daemons
start_containerd() {
    if containerd_ok; then log "containerd already running ($CONTAINERD_SOCK)"; return; fi
    log "starting containerd (log: $LOG_DIR/containerd.log)"
    start_bg containerd "$LOG_DIR/containerd.log" containerd
    wait_for containerd "$LOG_DIR/containerd.log" containerd containerd_ok
}

start_dockerd() {
    log "starting dockerd (log: $LOG_DIR/dockerd.log)"
    start_bg dockerd "$LOG_DIR/dockerd.log" dockerd --containerd="$CONTAINERD_SOCK"
    wait_for dockerd "$LOG_DIR/dockerd.log" dockerd docker_ok
}

check_snapshotter() {
    local status
    status=$(docker info --format '{{json .DriverStatus}}' 2>/dev/null || true)
    if ! grep -q 'io.containerd.snapshotter.v1' <<<"$status"; then
        if pid_alive dockerd; then
            die "dockerd runs without the containerd image store (DriverStatus: $status); check $DAEMON_JSON and $LOG_DIR/dockerd.log"
        fi
        die "the running Docker does not use the containerd image store (DriverStatus: $status). Add {\"features\":{\"containerd-snapshotter\":true}} to $DAEMON_JSON and restart it (needed to export registry caches with the docker driver)"
    fi
    log "containerd image store active ($(docker info --format '{{.Driver}}' 2>/dev/null))"
}

check_buildx() {
    ensure_buildx_plugin
    timeout 30 docker buildx inspect default >/dev/null 2>&1 \
        || die "'docker buildx inspect default' fails: $(docker buildx inspect default 2>&1 | tail -n1)"
    log "buildx ok: $(docker buildx version 2>/dev/null)"
}

# The default bridge. Another dockerd on the same host that is started without --bridge=none
# (e.g. a test daemon) deletes/recreates docker0 on start/stop; our dockerd then fails every RUN
# with "adding interface vethX to bridge docker0 failed: Device does not exist". Recreate it.
ensure_bridge() {
    command -v ip >/dev/null 2>&1 || return 0
    local gw subnet
    gw=$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null) || return 0
    [ -n "$gw" ] || return 0
    if ip link show docker0 >/dev/null 2>&1; then return 0; fi
    [ "$(id -u)" = 0 ] || { log "WARNING: bridge docker0 is missing; build RUN steps will fail (rerun as root to repair)"; return 0; }
    subnet=$(docker network inspect bridge --format '{{range .IPAM.Config}}{{.Subnet}}{{end}}' 2>/dev/null)
    log "bridge docker0 is missing (deleted by another dockerd?); recreating it with $gw/${subnet#*/}"
    ip link add docker0 type bridge
    ip addr add "$gw/${subnet#*/}" dev docker0
    ip link set docker0 up
}

start_registry() {
    if registry_ok; then log "registry already answering on http://$REGISTRY_ADDR/v2/"; return; fi
    case "$REGISTRY_ADDR" in 127.*|localhost:*|\[::1\]:*) ;; *) die "SLCC_REGISTRY_ADDR must be a loopback address, got $REGISTRY_ADDR";; esac
    command -v docker-registry >/dev/null 2>&1 || { require_root_and_apt; install_packages docker-registry; }
    write_registry_config
    log "starting registry on $REGISTRY_ADDR (storage: $REGISTRY_DIR, log: $LOG_DIR/registry.log)"
    start_bg registry "$LOG_DIR/registry.log" docker-registry serve "$REGISTRY_CONFIG"
    wait_for registry "$LOG_DIR/registry.log" registry registry_ok
}

cmd_up() {
    local t0=$SECONDS
    mkdir -p "$LOG_DIR" "$RUN_DIR" 2>/dev/null || true
    command -v curl >/dev/null 2>&1 || { require_root_and_apt; apt-get install -y -q curl >/dev/null; }
    if docker_ok && buildx_ok; then
        log "docker and buildx already answer; installing nothing"
        check_snapshotter
        check_buildx
    else
        [ "$(id -u)" = 0 ] || die "docker/buildx do not answer and starting them needs root (try: sudo bash $0 up)"
        mkdir -p "$LOG_DIR" "$RUN_DIR"
        ensure_installed
        ensure_buildx_plugin
        if docker_ok; then
            log "dockerd already running"
        else
            write_daemon_json
            start_containerd
            start_dockerd
        fi
        check_snapshotter
        check_buildx
    fi
    ensure_bridge
    start_registry
    log "ready in $((SECONDS - t0))s: docker $(docker version --format '{{.Server.Version}}' 2>/dev/null), registry http://$REGISTRY_ADDR"
}

cmd_status() {
    local rc=0 name
    for name in containerd dockerd registry; do
        if pid_alive "$name"; then
            echo "$name: running (pid $(cat "$RUN_DIR/$name.pid"), started by engine.sh)"
        else
            case $name in
                containerd) if containerd_ok; then echo "containerd: running (not started by engine.sh)"; else echo "containerd: not running"; rc=1; fi ;;
                dockerd) if docker_ok; then echo "dockerd: running (not started by engine.sh)"; else echo "dockerd: not running"; rc=1; fi ;;
                registry) if registry_ok; then echo "registry: answering on $REGISTRY_ADDR (not started by engine.sh)"; else echo "registry: not answering on $REGISTRY_ADDR"; rc=1; fi ;;
            esac
        fi
    done
    if docker_ok; then
        echo "docker: server $(docker version --format '{{.Server.Version}}' 2>/dev/null), client $(docker version --format '{{.Client.Version}}' 2>/dev/null), driver $(docker info --format '{{.Driver}}' 2>/dev/null)"
        if buildx_ok; then echo "buildx: $(docker buildx version 2>/dev/null)"; else echo "buildx: not working"; rc=1; fi
    fi
    registry_ok && echo "registry: http://$REGISTRY_ADDR/v2/ answers"
    if docker_ok && command -v ip >/dev/null 2>&1 && ! ip link show docker0 >/dev/null 2>&1; then
        echo "bridge: docker0 MISSING (RUN steps fail; 'engine.sh up' recreates it)"; rc=1
    fi
    return $rc
}

stop_pid() { # stop_pid NAME
    local name=$1 pidf="$RUN_DIR/$1.pid" pid
    [ -f "$pidf" ] || { log "$name: not started by engine.sh"; return 0; }
    pid=$(cat "$pidf")
    if kill -0 "$pid" 2>/dev/null; then
        log "stopping $name (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 $((TIMEOUT * 2))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
        if kill -0 "$pid" 2>/dev/null; then log "$name did not stop; sending KILL"; kill -KILL "$pid" 2>/dev/null || true; fi
    else
        log "$name: not running (stale pid file)"
    fi
    rm -f "$pidf"
}

cmd_down() {
    stop_pid registry
    stop_pid dockerd
    stop_pid containerd
}

main() {
    set -euo pipefail
    local action="${1:-up}"
    case "$action" in
        up) cmd_up ;;
        status) cmd_status ;;
        down) cmd_down ;;
        -h|--help|help) sed -n "2,20p" "$0" | sed 's/^# \{0,1\}//' ;;
        *) die "unknown action '$action' (use up, status or down)" ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    main "$@"
fi
