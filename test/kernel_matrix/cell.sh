#!/bin/sh
# One cell of the kernel matrix: one attach mode on the running kernel.
# POSIX sh: runs under bash on the host and under busybox sh inside the qemu guest.
#
# usage: cell.sh KERNEL_LABEL MODE EXPECT
#   EXPECT=pass         netlens must start in MODE; then the selected integration tests run
#                       with NETLENS_TEST_ATTACH_MODE=MODE and must all pass. A MODE other than
#                       auto runs with --accounting events (NETLENS_TEST_ACCOUNTING=events): the
#                       attach modes are those of the per-event hooks; auto runs the default
#                       kernel accounting.
#   EXPECT=unsupported  netlens must refuse MODE: exit non-zero, within the probe timeout,
#                       with an error message (not hang, not start).
# environment:
#   KM_NETLENS, KM_INTEGRATION_TESTS  the binaries (integration_tests has nl-traffic's and
#                                     netlens' paths compiled in)
#   KM_TESTS          Catch2 test spec, e.g. "[process],[remote]"
#   KM_ATTACH_FLAG    1: netlens has --attach-mode; 0: run without it (mode must be auto)
#   KM_WORK           a writable directory for logs
#   KM_PROBE_TIMEOUT  seconds netlens gets to start or fail (default 30)
#   KM_TEST_TIMEOUT   seconds the integration tests get (default 400)
#   KM_TAIL_LINES     lines of failure output to print (default 40)
#
# Prints one result line, then, unless the cell came out as expected, the tail of its output:
#   MATRIX kernel=K mode=M expect=E result=pass|fail|unsupported
#          hooks=send/receive:kprobe,lifecycle:tp_btf,retransmit:tracepoint
#          cases=P/T assertions=P/T seconds=S detail="..."
#   MATRIX-TAIL kernel=K mode=M | <line>
# Exit status: 0 if the cell came out as expected, 1 otherwise.

kernel="$1"
mode="$2"
expect="$3"
work="${KM_WORK:-/tmp}/cell-${mode}"
probe_timeout="${KM_PROBE_TIMEOUT:-30}"
test_timeout="${KM_TEST_TIMEOUT:-400}"
tail_lines="${KM_TAIL_LINES:-40}"
rm -rf "$work"
mkdir -p "$work"
start_s=$(date +%s)

# Prints a value for detail="...": one line, no double quotes, at most 200 characters.
oneline() {
  tr '\n"' " '" | sed -e 's/  */ /g' -e 's/^ //' -e 's/ $//' | cut -c1-200
}

result_line() {  # result detail [extra fields]
  _r="$1"
  _d="$2"
  shift 2
  echo "MATRIX kernel=${kernel} mode=${mode} expect=${expect} result=${_r} $* seconds=$(($(date +%s) - start_s)) detail=\"${_d}\""
}

print_tail() {  # file
  tail -n "$tail_lines" "$1" | sed -e "s/^/MATRIX-TAIL kernel=${kernel} mode=${mode} | /"
}

# True while PID runs (a zombie, exited but not yet reaped, does not count).
alive() {  # pid
  _state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
  [ -n "$_state" ] && [ "$_state" != Z ]
}

# What every process is blocked in: name, state, wait channel and kernel stack. Printed when
# something overruns its deadline, so that a hang (in CI, in a guest nobody can log into)
# names its place instead of only its timeout.
hang_report() {
  echo "---- our processes at the deadline (pid comm state wchan; kernel stack) ----"
  for dir in /proc/[0-9]*; do
    # Ours: run from the directories of netlens or the tests (nl-traffic and the helpers too).
    cmd=$(tr '\0' ' ' <"$dir/cmdline" 2>/dev/null)
    case "$cmd" in "${KM_NETLENS%/*}/"* | "${KM_INTEGRATION_TESTS%/*}/"*) ;; *) continue ;; esac
    comm=$(cat "$dir/comm" 2>/dev/null) || continue
    state=$(sed -n 's/^State:[[:space:]]*//p' "$dir/status" 2>/dev/null)
    echo "${dir#/proc/} $comm $state wchan=$(cat "$dir/wchan" 2>/dev/null)"
    sed 's/^/    /' "$dir/stack" 2>/dev/null | head -n 12
  done
  echo "---- kernel log, last lines ----"
  dmesg 2>/dev/null | tail -n 20
}

# Runs a command with its output in a file and a hard deadline: at the deadline the hang report
# goes to HANG_FILE, then TERM, and KILL 10 s later (a process that ignores or deadlocks on TERM
# must not hold the whole matrix). Returns the command's status (124 if the deadline hit it).
run_with_deadline() {  # seconds logfile hangfile command...
  _secs=$1
  _log=$2
  _hang=$3
  shift 3
  "$@" >"$_log" 2>&1 &
  _pid=$!
  # The watchdog's output goes to the hang file, never to our stdout: a leftover sleep must not
  # hold the pipe ctest reads.
  (
    sleep "$_secs"
    alive "$_pid" || exit 0
    hang_report
    kill -TERM "$_pid" 2>/dev/null
    sleep 10
    kill -KILL "$_pid" 2>/dev/null
  ) >"$_hang" 2>&1 &
  _watchdog=$!
  wait "$_pid"
  _status=$?
  if [ -s "$_hang" ]; then
    _status=124
    sleep 1 # let the watchdog finish its KILL
  fi
  kill "$_watchdog" 2>/dev/null
  return $_status
}

# ---- probe: does netlens start in this mode? --------------------------------------------------
# netlens logs "serving http://..." once its programs are attached and /metrics is served.
probe_log="$work/probe.log"
probe_start=$(date +%s)
attach_args=""
[ "${KM_ATTACH_FLAG:-1}" = 1 ] && attach_args="--attach-mode $mode"
# Attach modes choose the per-event hooks, which only `--accounting events` loads: a forced mode
# runs that accounting; auto runs the default, kernel accounting (socket counters).
accounting=kernel
[ "$mode" != auto ] && accounting=events
grep -q -a 'invalid accounting' "$KM_NETLENS" || accounting=""  # an older netlens: one accounting
[ -n "$accounting" ] && attach_args="$attach_args --accounting $accounting"
probe_state=""
probe_exit=""
try=0
while [ $try -lt 3 ]; do
  try=$((try + 1))
  now=$(date +%s)
  port=$((20000 + ($$ * 7 + try * 131 + now) % 30000))
  : >"$probe_log"
  # shellcheck disable=SC2086  # attach_args is two words or none
  "$KM_NETLENS" --listen "127.0.0.1:$port" --log-level debug $attach_args >"$probe_log" 2>&1 &
  pid=$!
  waited=0
  probe_state="hung"
  while [ $waited -lt $((probe_timeout * 5)) ]; do
    if ! kill -0 "$pid" 2>/dev/null; then
      wait "$pid"
      probe_exit=$?
      probe_state="exited"
      break
    fi
    if grep -q "serving http://" "$probe_log"; then
      probe_state="started"
      break
    fi
    sleep 0.2
    waited=$((waited + 1))
  done
  if [ "$probe_state" != exited ]; then
    kill -TERM "$pid" 2>/dev/null
    sleep 1
    kill -KILL "$pid" 2>/dev/null
    # Reap it, but never wait on a process stuck in the kernel (it would hold the cell forever).
    gone=0
    while [ $gone -lt 10 ] && alive "$pid"; do sleep 1; gone=$((gone + 1)); done
    if alive "$pid"; then
      [ "$probe_state" = hung ] && hang_report >>"$probe_log"
    else
      wait "$pid" 2>/dev/null
    fi
  fi
  # A port taken by someone else is not the mode's fault: try another.
  if [ "$probe_state" = exited ] && grep -q "127.0.0.1:$port" "$probe_log" &&
     grep -qi "in use" "$probe_log"; then
    continue
  fi
  break
done
# The mode netlens chose per hook: "[info] send/receive: kprobe (forced)".
hooks=$(sed -n -E 's#.*\[info\] (send/receive|lifecycle|retransmit|accept): ([a-z_]+) \(.*#\1:\2#p' "$probe_log" |
  tr '\n' ',' | sed 's/,$//')
started_field="hooks=${hooks:-none} probe=$(($(date +%s) - probe_start))s"
# netlens' error: the last error-level line, or a "netlens: ..." usage error.
error_line=$(grep -E '\[(error|critical)\]|^netlens: ' "$probe_log" | tail -n 1 | sed -E 's/^(\[[^]]*\] *)+//' | oneline)

if [ "$expect" = unsupported ]; then
  case "$probe_state" in
    exited)
      if [ "$probe_exit" -ne 0 ] && [ -n "$error_line" ]; then
        result_line unsupported "exit $probe_exit: $error_line" "$started_field"
        exit 0
      fi
      result_line fail "exit $probe_exit without an error message" "$started_field"
      ;;
    started) result_line fail "started although expected unsupported" "$started_field" ;;
    *) result_line fail "neither served nor exited within ${probe_timeout} s (hang)" "$started_field" ;;
  esac
  print_tail "$probe_log"
  exit 1
fi

if [ "$probe_state" != started ]; then
  case "$probe_state" in
    exited) detail="netlens exit $probe_exit: ${error_line:-no error message}" ;;
    *) detail="netlens neither served nor exited within ${probe_timeout} s" ;;
  esac
  result_line fail "$detail" "$started_field"
  print_tail "$probe_log"
  exit 1
fi

# ---- the exact-count integration tests in this mode ------------------------------------------
out="$work/integration_tests.log"
hang="$work/hang.txt"
run_with_deadline "$test_timeout" "$out" "$hang" env NETLENS_TEST_ATTACH_MODE="$mode" \
  NETLENS_TEST_ACCOUNTING="$accounting" CI=true \
  TMPDIR="$work" "$KM_INTEGRATION_TESTS" "$KM_TESTS" --durations yes
status=$?
# Children of a killed test run (netlens, nl-traffic) must not outlive the cell. Matched on
# their executable, not their command line: the matrix scripts name netlens in theirs.
if [ "$status" -eq 124 ]; then
  for dir in /proc/[0-9]*; do
    case "$(readlink "$dir/exe" 2>/dev/null)" in
      "$KM_NETLENS" | "${KM_INTEGRATION_TESTS%/*}/"*) kill -KILL "${dir#/proc/}" 2>/dev/null ;;
    esac
  done
fi

# Catch2 v2 summaries: "All tests passed (N assertions in M test cases)", or
# "test cases: T | P passed | F failed" and "assertions: T | P passed | F failed".
tr -d '\r' <"$out" >"$out.clean"
cases=""
asserts=""
line=$(grep -E '^All tests passed \(' "$out.clean" | tail -n 1)
if [ -n "$line" ]; then
  n_assert=$(echo "$line" | sed -n 's/^All tests passed (\([0-9]*\) assertion.*/\1/p')
  n_cases=$(echo "$line" | sed -n 's/.* in \([0-9]*\) test case.*/\1/p')
  cases="$n_cases/$n_cases"
  asserts="$n_assert/$n_assert"
else
  c=$(grep -E '^test cases:' "$out.clean" | tail -n 1)
  a=$(grep -E '^assertions:' "$out.clean" | tail -n 1)
  if [ -n "$c" ]; then
    cases="$(echo "$c" | sed -n 's/.*| *\([0-9]*\) passed.*/\1/p')/$(echo "$c" | sed -n 's/^test cases: *\([0-9]*\).*/\1/p')"
    case "$cases" in /*) cases="0$cases" ;; esac
  fi
  if [ -n "$a" ]; then
    asserts="$(echo "$a" | sed -n 's/.*| *\([0-9]*\) passed.*/\1/p')/$(echo "$a" | sed -n 's/^assertions: *\([0-9]*\).*/\1/p')"
    case "$asserts" in /*) asserts="0$asserts" ;; esac
  fi
fi
counts="cases=${cases:-?} assertions=${asserts:-?}"

if [ "$status" -eq 0 ] && [ -n "$cases" ] && [ "${cases%/*}" -gt 0 ]; then
  result_line pass "" "$started_field" "$counts"
  exit 0
fi
case "$status" in
  124) detail="integration_tests timed out after ${test_timeout} s (processes at the deadline below)" ;;
  129 | 13[0-9] | 14[0-9] | 15[0-9])
    # Not our watchdog: a kernel oops kills the process that hit it (see the kernel log below).
    detail="integration_tests was killed by signal $((status - 128))"
    dmesg 2>/dev/null | tail -n 20 >"$hang"
    ;;
  0) detail="no test case ran (spec: $KM_TESTS)" ;;
  *)
    # The first failure Catch2 reports: the source line and the message after it.
    first=$(grep -E -A4 '(FAILED|failed):?$' "$out.clean" | grep -v -E '^(-|=|\.)+$' | head -n 5 | oneline)
    detail="integration_tests exit $status: ${first:-see tail}"
    ;;
esac
result_line fail "$detail" "$started_field" "$counts"
print_tail "$out.clean"
[ -s "$hang" ] && sed -e "s/^/MATRIX-TAIL kernel=${kernel} mode=${mode} | /" "$hang"
exit 1
