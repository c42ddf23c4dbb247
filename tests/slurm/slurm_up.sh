#!/usr/bin/env bash
# Start a one-node SLURM cluster with accounting on this machine, for tests.
#
#   tests/slurm/slurm_up.sh BASE        then  export SLURM_CONF=BASE/etc/slurm.conf
#   tests/slurm/slurm_down.sh BASE      stops every daemon it started, by PID
#
# Needs root and a Debian/Ubuntu system (apt-get installs what is missing); no
# systemd. Everything lives under BASE: configs, munge key and socket, MariaDB
# data, controller state, logs and the PID files. Nothing under /etc, /run or
# /var/lib is written (apart from apt), so a SLURM or MariaDB of the machine
# is left alone: point the SLURM commands at this one with SLURM_CONF.
#
# Daemons: munged, mariadbd + slurmdbd (accounting: the Snakemake SLURM
# executor polls `sacct` and hangs silently without it), slurmctld, slurmd.
# One node with all CPUs in two partitions, `debug` and the default `batch`
# (a job lands in debug only when asked to), DefMemPerCPU (without it a job
# with no memory request takes the whole node). The node advertises 85% of
# the RAM but at least 16 GB, so that the memory requests of
# profiles/slurm are schedulable on a small machine; nothing enforces them
# here (no cgroups), and the test jobs use far less.
#
#   FAKE_GPUS=N        (default 1) N gres/gpu of type GPU_TYPE backed by /dev/null,
#   GPU_TYPE=name      (default fake) so GPU-annotated jobs are schedulable. The
#                      job gets no CUDA_VISIBLE_DEVICES (Flags=no_gpu_env).
#   SLURM_PORT_BASE=P  (default 6817) slurmctld P, slurmd P+1, slurmdbd P+2, MariaDB P+3.
#
# Exit status 77: this machine cannot run it (not root, no apt-get, packages
# not installable); the reason is the last line of stderr.
set -euo pipefail

BASE=${1:?usage: slurm_up.sh BASE}
mkdir -p "$BASE"
BASE=$(cd "$BASE" && pwd -P)
FAKE_GPUS=${FAKE_GPUS:-1}
GPU_TYPE=${GPU_TYPE:-fake}
PORT=${SLURM_PORT_BASE:-6817}
NODE=$(hostname -s)
NCPU=$(getconf _NPROCESSORS_ONLN) # not nproc: it follows OMP_NUM_THREADS
MEM_MB=$(($(awk '/MemTotal/{print int($2/1024)}' /proc/meminfo) * 85 / 100))
[ "$MEM_MB" -ge 16000 ] || MEM_MB=16000

cannot() { echo "cannot start SLURM here: $*" >&2; exit 77; }
wait_for() { # $1 = tries of 0.1 s, rest = command
  local n=$1; shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
fail() { # $1 = message; show the daemon logs
  echo "slurm_up: $1" >&2
  tail -n 20 "$BASE"/log/*.log >&2 2>/dev/null || true
  exit 1
}

[ "$(id -u)" = 0 ] || cannot "needs root (daemons run as root, apt-get installs packages)"
[ "$(uname -s)" = Linux ] || cannot "needs Linux"

# ---- packages -------------------------------------------------------------------
PKGS="slurmctld slurmd slurm-client slurmdbd munge mariadb-server"
installed() {
  for p in $PKGS; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || return 1
  done
}
if ! installed; then
  command -v apt-get >/dev/null || cannot "packages missing ($PKGS) and no apt-get to install them"
  export DEBIAN_FRONTEND=noninteractive
  # Keep apt from starting the distribution's services (as Docker images do).
  POLICY=/usr/sbin/policy-rc.d
  if [ ! -e $POLICY ]; then
    printf '#!/bin/sh\nexit 101\n' >$POLICY && chmod +x $POLICY
    trap 'rm -f $POLICY' EXIT
  fi
  {
    apt-get update -qq &&
      apt-get install -y -qq --no-install-recommends $PKGS
  } >"$BASE/apt.log" 2>&1 || cannot "apt-get install $PKGS failed: $(tail -n 3 "$BASE/apt.log" | tr '\n' ' ')"
  rm -f $POLICY
  trap - EXIT
fi

for p in "$PORT" $((PORT + 1)) $((PORT + 2)) $((PORT + 3)); do
  if (echo >/dev/tcp/127.0.0.1/"$p") 2>/dev/null; then
    cannot "port $p is in use (another SLURM or MariaDB?); set SLURM_PORT_BASE"
  fi
done

# See "srun" below: /etc/slurm/slurm.conf will link to this cluster's file.
LINK=/etc/slurm/slurm.conf
if [ -e $LINK ] || [ -L $LINK ]; then
  [ -L $LINK ] && { [ ! -e $LINK ] || grep -q '^# test cluster of tests/slurm/slurm_up.sh' $LINK; } ||
    cannot "$LINK exists (a SLURM of this machine?); it is left alone"
fi

rm -rf "$BASE"/{etc,run,state,spool,log,db}
mkdir -p "$BASE"/{etc,run,state,spool,log}
chmod 0755 "$BASE" "$BASE"/{etc,run,log} # munged checks the modes of its directories
SOCKET=$BASE/run/munge.socket

# ---- munge ------------------------------------------------------------------------
dd if=/dev/urandom of="$BASE/etc/munge.key" bs=1024 count=1 status=none
chmod 0400 "$BASE/etc/munge.key"
/usr/sbin/munged --force --socket="$SOCKET" --key-file="$BASE/etc/munge.key" \
  --pid-file="$BASE/run/munged.pid" --log-file="$BASE/log/munged.log" \
  --seed-file="$BASE/run/munged.seed" # daemonizes
wait_for 50 munge --socket="$SOCKET" -n || fail "munged does not answer"

# ---- slurm.conf, gres.conf, slurmdbd.conf -------------------------------------------
NODE_GRES=""
: >"$BASE/etc/gres.conf"
if [ "$FAKE_GPUS" -gt 0 ]; then
  NODE_GRES="Gres=gpu:$GPU_TYPE:$FAKE_GPUS"
  # gres/gpu drops "file-less" GPUs, so each one points at /dev/null
  for _ in $(seq "$FAKE_GPUS"); do
    echo "NodeName=$NODE Name=gpu Type=$GPU_TYPE File=/dev/null Flags=no_gpu_env" >>"$BASE/etc/gres.conf"
  done
fi
cat >"$BASE/etc/slurm.conf" <<EOF
# test cluster of tests/slurm/slurm_up.sh
ClusterName=roiroa
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$SOCKET
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
# the munge socket of the slurmdbd connection (AuthInfo does not cover it)
AccountingStoragePass=$SOCKET
AccountingStoragePort=$((PORT + 2))
AccountingStorageTRES=gres/gpu,gres/gpu:$GPU_TYPE
AccountingStoreFlags=job_comment
GresTypes=gpu
ReturnToService=2
SlurmdParameters=config_overrides
MinJobAge=300
KillWait=5
SlurmctldPidFile=$BASE/run/slurmctld.pid
SlurmdPidFile=$BASE/run/slurmd.pid
StateSaveLocation=$BASE/state
SlurmdSpoolDir=$BASE/spool
SlurmctldLogFile=$BASE/log/slurmctld.log
SlurmdLogFile=$BASE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$NCPU RealMemory=$MEM_MB $NODE_GRES State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=NO MaxTime=INFINITE State=UP
PartitionName=batch Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
cat >"$BASE/etc/slurmdbd.conf" <<EOF
AuthType=auth/munge
AuthInfo=socket=$SOCKET
DbdHost=localhost
DbdPort=$((PORT + 2))
SlurmUser=root
LogFile=$BASE/log/slurmdbd.log
PidFile=$BASE/run/slurmdbd.pid
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$((PORT + 3))
StorageLoc=slurm_acct_db
StorageUser=slurm
StoragePass=slurmpw
EOF
chmod 0600 "$BASE/etc/slurmdbd.conf"
# every SLURM daemon and command reads these (and gres.conf, slurmdbd.conf beside them)
export SLURM_CONF=$BASE/etc/slurm.conf
# ... except the `srun` that Snakemake's job step runs inside each job: the
# executor removes every SLURM_* variable, SLURM_CONF included, so srun reads
# the default path. Link it to this cluster's file; slurm_down.sh removes the
# link. A configuration of the machine's own SLURM there is never replaced.
mkdir -p /etc/slurm
ln -sfn "$SLURM_CONF" $LINK

# ---- accounting: MariaDB + slurmdbd ------------------------------------------------
DB=(mariadb --no-defaults --socket="$BASE/run/mysqld.sock" -u root)
mariadb-install-db --no-defaults --datadir="$BASE/db" --user=root --skip-test-db \
  --auth-root-authentication-method=normal >"$BASE/log/mariadb-install.log" 2>&1 ||
  fail "mariadb-install-db failed"
setsid /usr/sbin/mariadbd --no-defaults --user=root --datadir="$BASE/db" \
  --socket="$BASE/run/mysqld.sock" --pid-file="$BASE/run/mysqld.pid" \
  --bind-address=127.0.0.1 --port=$((PORT + 3)) --log-error="$BASE/log/mariadb.log" \
  </dev/null >/dev/null 2>&1 &
wait_for 150 "${DB[@]}" -e 'select 1' || fail "MariaDB does not answer"
"${DB[@]}" -e "CREATE DATABASE slurm_acct_db;
  CREATE USER 'slurm'@'%' IDENTIFIED BY 'slurmpw';
  GRANT ALL ON slurm_acct_db.* TO 'slurm'@'%';"
/usr/sbin/slurmdbd # daemonizes
wait_for 100 bash -c "echo >/dev/tcp/127.0.0.1/$((PORT + 2))" || fail "slurmdbd does not listen"

# ---- controller and compute daemon -----------------------------------------------
/usr/sbin/slurmctld # daemonizes
wait_for 100 bash -c "scontrol ping | grep -q UP" || fail "slurmctld does not answer"
/usr/sbin/slurmd # daemonizes
wait_for 150 bash -c '[ "$(sinfo -h -p debug -o %t)" = idle ]' || fail "node not idle: $(sinfo -h -p debug -o %t)"
# the cluster is registered in slurmdbd: sacct works
wait_for 100 sacct -n -X || fail "sacct does not work"
sinfo
