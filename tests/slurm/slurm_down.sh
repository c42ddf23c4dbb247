#!/usr/bin/env bash
# Stop the cluster that slurm_up.sh started under BASE: cancel its jobs, then
# stop each daemon by the PID in its PID file (never by name).
#
#   tests/slurm/slurm_down.sh BASE
set -uo pipefail

BASE=${1:?usage: slurm_down.sh BASE}
BASE=$(cd "$BASE" && pwd -P) || exit 0
export SLURM_CONF=$BASE/etc/slurm.conf

gone() { # $1 = pid: not running, or a zombie (PID 1 of a container may reap late)
  ! kill -0 "$1" 2>/dev/null || grep -q '^State:.*Z' /proc/"$1"/status 2>/dev/null
}
stop() { # $1 = pid file
  [ -s "$1" ] || return 0
  local p
  p=$(cat "$1")
  kill "$p" 2>/dev/null || return 0
  for _ in $(seq 100); do
    gone "$p" && return 0
    sleep 0.1
  done
  kill -9 "$p" 2>/dev/null || true
}

# Jobs still running would outlive slurmd (their slurmstepd is not a daemon of ours).
if [ -s "$BASE/run/slurmctld.pid" ] && ! gone "$(cat "$BASE/run/slurmctld.pid")"; then
  scancel --full "--user=$(id -un)" 2>/dev/null
  for _ in $(seq 100); do
    [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
    sleep 0.1
  done
fi

stop "$BASE/run/slurmd.pid"
stop "$BASE/run/slurmctld.pid"
stop "$BASE/run/slurmdbd.pid"
stop "$BASE/run/mysqld.pid"
stop "$BASE/run/munged.pid"
# the link slurm_up.sh made for the srun inside the jobs
[ "$(readlink /etc/slurm/slurm.conf)" = "$SLURM_CONF" ] && rm -f /etc/slurm/slurm.conf
exit 0
