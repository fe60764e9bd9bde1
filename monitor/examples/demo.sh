#!/usr/bin/env bash
# The first run: replay the bundled example recording through the monitor with the bundled
# default model, print the cough events, and - when mosquitto is installed - show the same
# events arriving over MQTT at a real subscriber. Run from the repository root (`make demo`).
set -euo pipefail
BIN=${BIN:-.venv/bin}
EXAMPLE=monitor/examples/example.ogg

echo "== cough-monitor info (the bundled default model)"
"$BIN/cough-monitor" info
echo
echo "== cough-monitor replay $EXAMPLE   (one JSON event per line on stdout)"
"$BIN/cough-monitor" replay "$EXAMPLE"
echo
echo "== per-file summary"
"$BIN/cough-monitor" replay "$EXAMPLE" --summary | tail -n 1

command -v mosquitto >/dev/null && command -v mosquitto_sub >/dev/null || {
  echo; echo "(mosquitto not installed: skipping the MQTT part)"; exit 0; }

work=$(mktemp -d)
port=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$work/mosquitto.conf"
[ "$(id -u)" = 0 ] && echo "user root" >>"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 &
broker=$!
trap 'kill $sub $broker 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do mosquitto_sub -p "$port" -t probe -W 1 -C 1 >/dev/null 2>&1 && break || sleep 0.1; done 2>/dev/null || true
mosquitto_sub -h 127.0.0.1 -p "$port" -v -t 'coughwatch/#' >"$work/sub.txt" &
sub=$!
sleep 0.5
echo
echo "== the same replay published over MQTT to a local broker (port $port); mosquitto_sub shows:"
"$BIN/cough-monitor" replay "$EXAMPLE" --mqtt-host 127.0.0.1 --mqtt-port "$port" \
  --device-id demo --state-dir "$work/state" >/dev/null
sleep 0.5
cat "$work/sub.txt"
