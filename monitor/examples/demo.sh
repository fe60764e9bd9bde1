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
echo "== the same replay, --summary: one JSON line per file instead of the events"
"$BIN/cough-monitor" replay "$EXAMPLE" --summary

command -v mosquitto >/dev/null && command -v mosquitto_sub >/dev/null && command -v mosquitto_pub >/dev/null || {
  echo; echo "(mosquitto not installed: skipping the MQTT part)"; exit 0; }

work=$(mktemp -d)
broker="" sub=""
trap 'kill $sub $broker 2>/dev/null || true; rm -rf "$work"' EXIT
port=$("$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$port" >"$work/mosquitto.conf"
[ "$(id -u)" = 0 ] && echo "user root" >>"$work/mosquitto.conf"
mosquitto -c "$work/mosquitto.conf" >"$work/broker.log" 2>&1 &
broker=$!

# Wait (at most 5 s) until a message published to the broker reaches our subscriber:
# then the broker is up and the subscriber is listening, so it sees every event.
echo
echo "== starting a local MQTT broker on 127.0.0.1:$port; waiting until a subscriber receives a test message"
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
mosquitto_sub -h 127.0.0.1 -p "$port" -v -t 'coughwatch/#' -t 'demo/marker' >"$work/sub.txt" 2>/dev/null &
sub=$!
wait_for_marker() {  # publish $1 to demo/marker until the subscriber has printed it
  for _ in $(seq 50); do
    mosquitto_pub -h 127.0.0.1 -p "$port" -t demo/marker -m "$1" 2>/dev/null || true
    grep -qx "demo/marker $1" "$work/sub.txt" && return 0
    sleep 0.1
  done
  echo "the broker did not answer within 5 s (log: $(tr '\n' ' ' <"$work/broker.log"))" >&2
  return 1
}
wait_for_marker ready
echo "== the same replay published over MQTT; mosquitto_sub -v -t 'coughwatch/#' shows:"
"$BIN/cough-monitor" replay "$EXAMPLE" --mqtt-host 127.0.0.1 --mqtt-port "$port" \
  --device-id demo --state-dir "$work/state" >/dev/null
wait_for_marker done  # everything published before it has reached the subscriber
grep -v '^demo/marker ' "$work/sub.txt"
