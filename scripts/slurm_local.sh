#!/usr/bin/env bash
# scripts/slurm_local.sh up|down|status - a real single-node Slurm 22.05 cluster on this machine.
#
# For the integration tests (pytest -m slurm) and for trying `hydra/launcher=slurm` without a
# cluster.  Debian 12, run as root, no systemd needed (service starts may be blocked):
#
#   up      install what is missing (slurmctld slurmd slurm-client munge slurmdbd mariadb-server),
#           write /etc/slurm/{slurm,slurmdbd}.conf, then start in order
#             munged (as user munge) -> mariadbd (127.0.0.1 only) -> slurmdbd -> slurmctld
#             -> slurmd -N localhost
#           and wait until `scontrol ping`, `sacctmgr -n list cluster` and `srun -t 1 true` work.
#           Idempotent: a daemon already running (by its pidfile) is left alone.
#   down    stop the daemons in reverse order by pidfile and delete the pidfiles (a stale
#           pidfile breaks a later package removal).  Jobs still running are not cancelled.
#   status  one line per daemon (up / down), then the controller and node state; exit 0 when
#           everything is up, 3 otherwise.
#
# The node is called `localhost` with NodeAddr=127.0.0.1, so the machine's hostname does not
# matter; one partition `debug` (the default partition: leave `partition` unset when submitting),
# no GPUs; at least 8 CPUs and 33 GB, so two tasks of the slurm preset (4 CPUs, 16 GB each) fit
# (oversubscribed where the machine has less: see make_node_line).  Accounting (slurmdbd) is started because
# without it `sacct` fails and submitit cannot notice a job that died without a result.
#
# Environment:
#   SLURM_LOCAL_CLUSTER    cluster name            (default: htsweep)
#   SLURM_LOCAL_PARTITION  partition name          (default: debug)
#   SLURM_LOCAL_TIMEOUT    seconds to wait for each daemon (default: 60)
#
# On failure `up` prints one line `slurm_local.sh: error: <reason>` on stderr and exits 1.
set -uo pipefail

PROG=slurm_local.sh
CLUSTER=${SLURM_LOCAL_CLUSTER:-htsweep}
PARTITION=${SLURM_LOCAL_PARTITION:-debug}
WAIT_S=${SLURM_LOCAL_TIMEOUT:-60}

PACKAGES=(munge mariadb-server slurmdbd slurmctld slurmd slurm-client)
MARKER="# Written by htsweep scripts/slurm_local.sh"

CONF_DIR=/etc/slurm
SLURM_CONF=$CONF_DIR/slurm.conf
DBD_CONF=$CONF_DIR/slurmdbd.conf
RUN_DIR=/run/slurm
LOG_DIR=/var/log/slurm
STATE_DIR=/var/lib/slurm
DB_NAME=slurm_acct_db
DB_USER=slurm

MUNGE_PID=/run/munge/munged.pid
MYSQL_PID=/run/mysqld/mysqld.pid
MYSQL_SOCK=/run/mysqld/mysqld.sock
DBD_PID=$RUN_DIR/slurmdbd.pid
CTLD_PID=$RUN_DIR/slurmctld.pid
SLURMD_PID=$RUN_DIR/slurmd.pid
MYSQL_LOG=$LOG_DIR/mariadb.log

# name|pidfile|log, in start order
DAEMONS=(
  "munged|$MUNGE_PID|/var/log/munge/munged.log"
  "mariadbd|$MYSQL_PID|$MYSQL_LOG"
  "slurmdbd|$DBD_PID|$LOG_DIR/slurmdbd.log"
  "slurmctld|$CTLD_PID|$LOG_DIR/slurmctld.log"
  "slurmd|$SLURMD_PID|$LOG_DIR/slurmd.log"
)

log() { echo "[$PROG] $*"; }
die() { echo "$PROG: error: $*" >&2; exit 1; }

last_log_line() {  # the last non-empty line of a log file, for error messages
  [ -r "$1" ] && grep -v '^\s*$' "$1" | tail -n 1
}

# pid of a running daemon from its pidfile, or nothing (status 1).  The process name must
# match too, so a stale pidfile whose pid was reused by another program counts as not running.
running_pid() {
  local pidfile=$1 pid want comm
  [ -s "$pidfile" ] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  case "$pidfile" in
    "$MYSQL_PID") want=mariadbd ;;
    *) want=$(basename "$pidfile" .pid) ;;
  esac
  comm=$(cat "/proc/$pid/comm" 2>/dev/null)
  [ "$comm" = "$want" ] || return 1
  echo "$pid"
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.5 s until it succeeds (status 1: timed out)
wait_for() {
  local secs=$1 deadline
  shift
  deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.5
  done
}

# ---------------------------------------------------------------------------------------------
install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && { log "packages: all installed"; return 0; }
  command -v apt-get >/dev/null || die "packages missing (${missing[*]}) and apt-get not found"
  log "packages: installing ${missing[*]} (apt-get; about 20 s)"
  export DEBIAN_FRONTEND=noninteractive
  # A fresh machine may have empty or stale package lists: update once, then retry.
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/slurm_local_apt.log 2>&1; then
    apt-get update -q >>/tmp/slurm_local_apt.log 2>&1 \
      || die "apt-get update failed: $(last_log_line /tmp/slurm_local_apt.log)"
    apt-get install -y -q --no-install-recommends "${missing[@]}" >>/tmp/slurm_local_apt.log 2>&1 \
      || die "apt-get install ${missing[*]} failed: $(last_log_line /tmp/slurm_local_apt.log)"
  fi
  log "packages: installed"
}

# ---------------------------------------------------------------------------------------------
start_munge() {
  local pid
  if pid=$(running_pid "$MUNGE_PID"); then log "munged: already up (pid $pid)"; return 0; fi
  rm -f "$MUNGE_PID"
  install -d -o munge -g munge -m 0755 /run/munge
  install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
  install -d -o munge -g munge -m 0700 /etc/munge
  if [ ! -s /etc/munge/munge.key ]; then
    log "munged: creating /etc/munge/munge.key"
    if command -v mungekey >/dev/null; then
      mungekey --create --keyfile=/etc/munge/munge.key || die "mungekey could not create /etc/munge/munge.key"
    else
      dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    fi
  fi
  chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PID" \
    || die "munged failed to start: $(last_log_line /var/log/munge/munged.log)"
  wait_for "$WAIT_S" sh -c 'munge -n | unmunge' \
    || die "munge does not answer (munge -n | unmunge): $(last_log_line /var/log/munge/munged.log)"
  log "munged: up (pid $(running_pid "$MUNGE_PID"))"
}

# ---------------------------------------------------------------------------------------------
mysql_root() { mariadb --protocol=socket --socket="$MYSQL_SOCK" -uroot "$@"; }

start_mariadb() {
  local pid
  if pid=$(running_pid "$MYSQL_PID"); then log "mariadbd: already up (pid $pid)"; return 0; fi
  rm -f "$MYSQL_PID"
  install -d -o mysql -g mysql -m 0755 /run/mysqld
  install -d -o slurm -g slurm -m 0755 "$LOG_DIR"
  if [ ! -d /var/lib/mysql/mysql ]; then
    log "mariadbd: initialising /var/lib/mysql"
    mariadb-install-db --user=mysql --datadir=/var/lib/mysql --auth-root-authentication-method=socket \
      >"$MYSQL_LOG" 2>&1 || die "mariadb-install-db failed: $(last_log_line "$MYSQL_LOG")"
  fi
  : >>"$MYSQL_LOG"
  chown mysql:mysql "$MYSQL_LOG"
  setsid /usr/sbin/mariadbd --user=mysql --datadir=/var/lib/mysql --bind-address=127.0.0.1 --port=3306 \
    --socket="$MYSQL_SOCK" --pid-file="$MYSQL_PID" --log-error="$MYSQL_LOG" \
    --innodb-buffer-pool-size=1024M --innodb-lock-wait-timeout=900 \
    </dev/null >>"$MYSQL_LOG" 2>&1 &
  wait_for "$WAIT_S" mariadb-admin --protocol=socket --socket="$MYSQL_SOCK" ping \
    || die "mariadbd does not answer on $MYSQL_SOCK: $(last_log_line "$MYSQL_LOG")"
  wait_for 10 running_pid "$MYSQL_PID" || die "mariadbd wrote no pidfile $MYSQL_PID"
  log "mariadbd: up on 127.0.0.1:3306 (pid $(running_pid "$MYSQL_PID"))"
}

# The DB password lives only in slurmdbd.conf (mode 0600); reuse it when the file exists.
db_password() {
  local pw=""
  [ -r "$DBD_CONF" ] && pw=$(sed -n 's/^StoragePass=//p' "$DBD_CONF" | head -n 1)
  [ -n "$pw" ] || pw=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
  echo "$pw"
}

setup_db_user() {
  local pw=$1 host
  for host in localhost 127.0.0.1; do
    mysql_root -e "CREATE USER IF NOT EXISTS '$DB_USER'@'$host' IDENTIFIED BY '$pw';
                   ALTER USER '$DB_USER'@'$host' IDENTIFIED BY '$pw';
                   GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'$host';" \
      || die "could not create the database user $DB_USER@$host in mariadb"
  done
  mysql_root -e "CREATE DATABASE IF NOT EXISTS $DB_NAME; FLUSH PRIVILEGES;" \
    || die "could not create the database $DB_NAME"
}

# ---------------------------------------------------------------------------------------------
# Refuse to overwrite a Slurm configuration that this script did not write.
check_foreign_conf() {
  local f
  for f in "$SLURM_CONF" "$DBD_CONF"; do
    if [ -s "$f" ] && ! head -n 1 "$f" | grep -qF "$MARKER"; then
      die "$f exists and was not written by $PROG; move it away to use the local test cluster"
    fi
  done
}

# write_if_changed FILE OWNER MODE < content; sets CHANGED=1 when the file was (re)written
CHANGED=0
write_if_changed() {
  local file=$1 owner=$2 mode=$3 tmp
  CHANGED=0
  tmp=$(mktemp)
  cat >"$tmp"
  if ! { [ -f "$file" ] && cmp -s "$tmp" "$file"; }; then
    install -o "${owner%:*}" -g "${owner#*:}" -m "$mode" "$tmp" "$file" || die "could not write $file"
    CHANGED=1
  fi
  rm -f "$tmp"
  chown "$owner" "$file" && chmod "$mode" "$file"
}

write_dbd_conf() {
  local pw=$1
  write_if_changed "$DBD_CONF" slurm:slurm 0600 <<EOF
$MARKER (rewritten by \`up\`): accounting for the local test cluster.
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=slurm
PidFile=$DBD_PID
LogFile=$LOG_DIR/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3306
StorageUser=$DB_USER
StoragePass=$pw
StorageLoc=$DB_NAME
EOF
}

# The node line.  The node is declared with at least PRESET_TASKS x the slurm preset's request
# (cpus_per_task=4, mem_gb=16 in htsweep/conf/hydra/launcher/slurm.yaml), so a sweep launched
# with `hydra/launcher=slurm device=cpu` and no further override is accepted and runs
# PRESET_TASKS tasks at once, as on a real cluster.  Where the machine has less (2 CPUs and
# 24 GB here), the node oversubscribes: SlurmdParameters=config_overrides makes slurmd report
# the configured CPUs and memory instead of draining the node, and nothing enforces the memory
# (no cgroups, no OverMemoryKill).  The test jobs are tiny; this is a test cluster, not a model
# of the machine.  Where the machine has more, its real counts (`slurmd -C`) are used, with
# RealMemory a little under the physical memory.
PRESET_TASKS=2
PRESET_CPUS=4
PRESET_MEM_MB=16384
NODE_LINE=""
DEF_MEM_PER_CPU=1024
OVERSUBSCRIBED=0
make_node_line() {
  local hw mem cpus want_cpus want_mem
  hw=$(slurmd -C 2>/dev/null | grep '^NodeName=' | head -n 1)
  [ -n "$hw" ] || die "slurmd -C printed no node description"
  mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")
  [ -n "$mem" ] || die "slurmd -C printed no RealMemory: $hw"
  cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$hw")
  [ -n "$cpus" ] || die "slurmd -C printed no CPUs: $hw"
  mem=$((mem * 95 / 100))
  want_cpus=$((PRESET_TASKS * PRESET_CPUS))
  want_mem=$((PRESET_TASKS * PRESET_MEM_MB + 1024))
  if [ "$cpus" -lt "$want_cpus" ] || [ "$mem" -lt "$want_mem" ]; then
    OVERSUBSCRIBED=1
    [ "$cpus" -ge "$want_cpus" ] || cpus=$want_cpus
    [ "$mem" -ge "$want_mem" ] || mem=$want_mem
    hw="NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus Boards=1 SocketsPerBoard=1 CoresPerSocket=$cpus ThreadsPerCore=1 RealMemory=$mem"
  else
    hw=$(sed -e 's/^NodeName=[^ ]*/NodeName=localhost NodeAddr=127.0.0.1/' \
             -e "s/RealMemory=[0-9]*/RealMemory=$mem/" -e 's/ UpTime=.*//' <<<"$hw")
  fi
  DEF_MEM_PER_CPU=$((mem / cpus))
  NODE_LINE="$hw State=UNKNOWN"
}

write_slurm_conf() {
  make_node_line
  write_if_changed "$SLURM_CONF" root:root 0644 <<EOF
$MARKER (rewritten by \`up\`): single-node test cluster.
ClusterName=$CLUSTER
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
MpiDefault=none
# No cgroups: process tracking by /proc, no task containment.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
StateSaveLocation=$STATE_DIR/slurmctld
SlurmdSpoolDir=$STATE_DIR/slurmd
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=6819
JobCompType=jobcomp/none
MailProg=/bin/true
# Reject at submission a job that can never run here (e.g. more CPUs than the node has)
# instead of leaving it pending for ever.
EnforcePartLimits=ALL
# A job without --mem gets its CPUs' share of the memory, not the whole node.
DefMemPerCPU=$DEF_MEM_PER_CPU
$( [ "$OVERSUBSCRIBED" = 1 ] && echo "SlurmdParameters=config_overrides" )
$NODE_LINE
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

# ---------------------------------------------------------------------------------------------
start_slurmdbd() {
  local pid
  if pid=$(running_pid "$DBD_PID"); then log "slurmdbd: already up (pid $pid)"; return 0; fi
  rm -f "$DBD_PID"
  slurmdbd || die "slurmdbd failed to start: $(last_log_line "$LOG_DIR/slurmdbd.log")"
  wait_for "$WAIT_S" timeout 10 sacctmgr -n list cluster \
    || die "slurmdbd does not answer (sacctmgr -n list cluster): $(last_log_line "$LOG_DIR/slurmdbd.log")"
  log "slurmdbd: up (pid $(running_pid "$DBD_PID"))"
}

register_cluster() {
  if timeout 10 sacctmgr -n -P list cluster format=cluster | grep -qx "$CLUSTER"; then
    return 0
  fi
  timeout 20 sacctmgr -i add cluster "$CLUSTER" >/dev/null \
    || die "sacctmgr could not add the cluster $CLUSTER"
  log "slurmdbd: cluster $CLUSTER registered"
}

start_slurmctld() {
  local pid
  if pid=$(running_pid "$CTLD_PID"); then log "slurmctld: already up (pid $pid)"; return 0; fi
  rm -f "$CTLD_PID"
  slurmctld || die "slurmctld failed to start: $(last_log_line "$LOG_DIR/slurmctld.log")"
  wait_for "$WAIT_S" sh -c 'timeout 10 scontrol ping | grep -q "is UP"' \
    || die "slurmctld does not answer (scontrol ping): $(last_log_line "$LOG_DIR/slurmctld.log")"
  log "slurmctld: up (pid $(running_pid "$CTLD_PID"))"
}

node_state() { timeout 10 sinfo -h -N -n localhost -o %T 2>/dev/null | head -n 1; }

node_ready() { case "$(node_state)" in idle* | mixed* | allocated* | completing*) return 0 ;; esac; return 1; }

start_slurmd() {
  local pid state
  if pid=$(running_pid "$SLURMD_PID"); then
    log "slurmd: already up (pid $pid)"
  else
    rm -f "$SLURMD_PID"
    slurmd -N localhost || die "slurmd failed to start: $(last_log_line "$LOG_DIR/slurmd.log")"
    wait_for 10 running_pid "$SLURMD_PID" \
      || die "slurmd exited after starting: $(last_log_line "$LOG_DIR/slurmd.log")"
    log "slurmd: started (pid $(running_pid "$SLURMD_PID"))"
  fi
  # A node left down/drained by an earlier run (e.g. a memory mismatch) is resumed once.
  if ! wait_for 10 node_ready; then
    state=$(node_state)
    case "$state" in
      drain* | down* | fail*)
        log "slurmd: node localhost is $state; resuming it"
        timeout 10 scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 ;;
    esac
    wait_for "$WAIT_S" node_ready || die "node localhost is '$(node_state)', not idle: \
$(timeout 10 sinfo -h -R -n localhost -o %E 2>/dev/null) $(last_log_line "$LOG_DIR/slurmd.log")"
  fi
  log "slurmd: node localhost is $(node_state)"
}

smoke_test() {
  if [ "$(node_state)" != idle ]; then
    log "srun check skipped: node localhost is $(node_state) (jobs running)"
    return 0
  fi
  (cd /tmp && timeout 60 srun -t 1 -p "$PARTITION" true) >/tmp/slurm_local_srun.log 2>&1 \
    || die "srun -t 1 true failed: $(last_log_line /tmp/slurm_local_srun.log)"
  log "srun -t 1 true: ok"
}

cmd_up() {
  local t0=$SECONDS pw b
  [ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts munged, mariadbd and the Slurm daemons)"
  export PATH=$PATH:/usr/sbin:/sbin
  install_packages
  for b in munged mariadbd slurmdbd slurmctld slurmd sacctmgr scontrol srun; do
    command -v "$b" >/dev/null || die "$b not found after installing ${PACKAGES[*]}"
  done
  check_foreign_conf
  install -d -o slurm -g slurm -m 0755 "$RUN_DIR" "$LOG_DIR" "$STATE_DIR" "$STATE_DIR/slurmctld"
  install -d -o root -g root -m 0755 "$STATE_DIR/slurmd" "$CONF_DIR"

  start_munge
  start_mariadb
  pw=$(db_password)
  setup_db_user "$pw"
  # sacctmgr (the slurmdbd check) reads slurm.conf too: write both before starting slurmdbd.
  write_dbd_conf "$pw"
  local dbd_changed=$CHANGED
  write_slurm_conf
  local conf_changed=$CHANGED
  if [ "$dbd_changed" = 1 ] && running_pid "$DBD_PID" >/dev/null; then
    log "slurmdbd.conf changed: restarting slurmdbd"
    stop_daemon slurmdbd "$DBD_PID"
  fi
  if [ "$conf_changed" = 1 ] && { running_pid "$CTLD_PID" || running_pid "$SLURMD_PID"; } >/dev/null; then
    log "slurm.conf changed: restarting slurmd and slurmctld"
    stop_daemon slurmd "$SLURMD_PID"
    stop_daemon slurmctld "$CTLD_PID"
  fi
  start_slurmdbd
  register_cluster
  start_slurmctld
  start_slurmd
  smoke_test
  log "cluster $CLUSTER is up (partition $PARTITION, node localhost: $(timeout 10 sinfo -h -N -n localhost -o '%c CPUs, %m MB')) in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------------------------------------
stop_daemon() {
  local name=$1 pidfile=$2 pid i
  if pid=$(running_pid "$pidfile"); then
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 1 60); do  # up to 30 s
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name: did not stop within 30 s; killing pid $pid"
      kill -KILL "$pid" 2>/dev/null
      sleep 0.5
    fi
    log "$name: stopped (pid $pid)"
  else
    log "$name: not running"
  fi
  rm -f "$pidfile"
}

cmd_down() {
  [ "$(id -u)" = 0 ] || die "must run as root"
  local i entry name pidfile
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    entry=${DAEMONS[$i]}
    name=${entry%%|*}; pidfile=${entry#*|}; pidfile=${pidfile%%|*}
    stop_daemon "$name" "$pidfile"
  done
}

cmd_status() {
  local entry name pidfile logfile pid all=0
  for entry in "${DAEMONS[@]}"; do
    name=${entry%%|*}; pidfile=${entry#*|}; logfile=${pidfile#*|}; pidfile=${pidfile%%|*}
    if pid=$(running_pid "$pidfile"); then
      printf '%-10s up (pid %s)\n' "$name:" "$pid"
    else
      printf '%-10s down (log: %s)\n' "$name:" "$logfile"; all=3
    fi
  done
  if command -v scontrol >/dev/null && running_pid "$CTLD_PID" >/dev/null; then
    printf '%-10s %s\n' "ctld:" "$(timeout 10 scontrol ping 2>&1 | head -n 1)"
    printf '%-10s %s\n' "node:" "localhost $(node_state) $(timeout 10 sinfo -h -N -n localhost -o '(%c CPUs, %m MB, partition %P)' 2>/dev/null)"
  fi
  return $all
}

# One `up` or `down` at a time (two test sessions starting the cluster at once): re-run this
# script under flock.  `flock -o` keeps the lock's descriptor away from the script, so the
# daemons it starts do not inherit the lock and hold it for ever.
LOCK=/run/slurm_local.lock
if [[ "${1:-}" == up || "${1:-}" == down ]] && [ -z "${SLURM_LOCAL_LOCKED:-}" ] && [ "$(id -u)" = 0 ]; then
  SLURM_LOCAL_LOCKED=1 flock -o -w 600 -E 75 "$LOCK" bash "$0" "$@"
  rc=$?
  [ "$rc" = 75 ] && die "another slurm_local.sh up/down held $LOCK for 600 s"
  exit "$rc"
fi

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $PROG up|down|status" >&2; exit 2 ;;
esac
