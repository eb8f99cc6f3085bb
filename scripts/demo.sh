#!/usr/bin/env bash
# `make demo`: local Kafka, the sink (the store's owner and writer) and a worker, a few
# simulated hours of 12 halls, then the results.
# `scripts/demo.sh stop` stops the worker, the sink and the broker.
set -euo pipefail
cd "$(dirname "$0")/.."

HP=.venv/bin/hallpulse
PORT=$(.venv/bin/python -c "from hallpulse.config import get_settings; print(get_settings().worker.web_port)")
URL="http://127.0.0.1:${PORT}"
SINK_PORT=$(.venv/bin/python -c "from hallpulse.config import get_settings; print(get_settings().sink.web_port)")
SINK_URL="http://127.0.0.1:${SINK_PORT}"
LOG=var/log
PIDFILE=var/demo-worker.pid
SINK_PIDFILE=var/demo-sink.pid
HALLS=${DEMO_HALLS:-12}
MINUTES=${DEMO_MINUTES:-240}
SPEED=${DEMO_SPEED:-80}

stop_pid() {  # pidfile, name
  if [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; then
    kill "$(cat "$1")" && echo "$2 stopped"
    for _ in $(seq 30); do kill -0 "$(cat "$1")" 2>/dev/null || break; sleep 1; done
  fi
  rm -f "$1"
}

start_service() {  # command, pidfile, ping url
  if [ -f "$2" ] && kill -0 "$(cat "$2")" 2>/dev/null; then
    echo "$1 already running (pid $(cat "$2"))"
  else
    nohup "$HP" "$1" >"$LOG/$1.log" 2>&1 &
    echo $! >"$2"
  fi
  for _ in $(seq 90); do
    curl -sf "$3/internal/ping" >/dev/null 2>&1 && return 0
    kill -0 "$(cat "$2")" 2>/dev/null || { echo "the $1 exited; see $LOG/$1.log"; tail -20 "$LOG/$1.log"; exit 1; }
    sleep 1
  done
}

stop() {
  stop_pid "$PIDFILE" worker
  stop_pid "$SINK_PIDFILE" sink
  "$HP" kafka down || true
}

if [ "${1:-}" = "stop" ]; then stop; exit 0; fi

mkdir -p "$LOG" var/reports
echo "== 1/5 Kafka (single-node KRaft on 127.0.0.1, data under var/kafka)"
"$HP" kafka up

echo "== 2/5 sink and worker (logs: $LOG/sink.log, $LOG/worker.log)"
start_service sink "$SINK_PIDFILE" "$SINK_URL"
start_service worker "$PIDFILE" "$URL"
FIRST_HALL=$(.venv/bin/python -c "from hallpulse.config import get_settings; from schemas.catalogue import load_catalogue; print(load_catalogue(get_settings().catalogue_file).halls[0].hall_id)")
cat <<EOF

  Live lobby page (大堂看板):   $URL/lobby/?hall=$FIRST_HALL     (English: add &lang=en)
  All halls, worst first:       $URL/lobby/
  Live API:                     $URL/api/halls   $URL/api/halls/$FIRST_HALL/now

EOF

# The window lies in the past (the worker refuses events from the future): the hours up to
# now while the halls are open, else from 09:00 today or yesterday.
START=$(.venv/bin/python -c "from hallpulse.simulator import default_start; print(default_start(minutes=$MINUTES).isoformat())")
echo "== 3/5 simulator: $HALLS halls, $MINUTES minutes of hall time from $START, ${SPEED}x (≈ $((MINUTES * 60 / SPEED)) s)"
"$HP" simulate --halls "$HALLS" --minutes "$MINUTES" --speed "$SPEED" --seed 7 --bad-share 0.005 --start "$START"

echo "== 4/5 waiting for the sink to write everything to ClickHouse"
seen() { curl -sf "$URL/api/stats" | .venv/bin/python -c "import json,sys; e=json.load(sys.stdin)['engine']; print(e['processed']+e['duplicates']+e['dead_letters'])" || echo 0; }
idle() { curl -sf "$SINK_URL/api/stats" | .venv/bin/python -c "import json,sys; s=json.load(sys.stdin)['sink']; print(int(s['lag']==0 and not s['writing']))" || echo 0; }
for _ in $(seq 60); do  # the worker has read everything when its count stops moving ...
  before=$(seen); sleep 4; [ "$(seen)" = "$before" ] && break
done
for _ in $(seq 120); do  # ... and the sink has written all it sent (visible at its commits)
  [ "$(idle)" = 1 ] && break
  sleep 1
done
curl -sf "$URL/api/stats" | .venv/bin/python -m json.tool
curl -sf "$SINK_URL/api/stats" | .venv/bin/python -m json.tool

TODAY=${START:0:10}
MONTH=${START:0:7}
echo "== 5/5 what came out: per-hall figures for $TODAY (from ClickHouse)"
"$HP" query --file sinks/queries/hall_day_summary.sql --param "day=$TODAY"
echo
echo "Alerts raised (排队预警):"
"$HP" query "SELECT hall_id, category, rule, level, action, formatDateTime(occurred_at, '%H:%i', 'Asia/Shanghai') AS at FROM alerts FINAL ORDER BY occurred_at DESC LIMIT 10"
echo
echo "Dead letters (bad input kept with a reason):"
"$HP" deadletter list --limit 5 || true
echo
"$HP" assess --period "$MONTH" --format html --out var/reports/assessment-"$MONTH".html
"$HP" assess --period "$MONTH" --format xlsx --out var/reports/assessment-"$MONTH".xlsx
"$HP" assess --period "$MONTH" --level city
cat <<EOF

Reports:  var/reports/assessment-$MONTH.html (open in a browser), var/reports/assessment-$MONTH.xlsx
The worker and the sink keep running for the live page at $URL/lobby/ ; stop it all with: make stop
Ask the store anything: $HP query "SELECT count() FROM visits FINAL"   (guide: docs/analyst-queries.md)
EOF
