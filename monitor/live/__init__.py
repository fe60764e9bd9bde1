"""The ``listen`` daemon: signals and sd_notify around one worker thread that reads the
microphone, scores, detects and publishes; SIGHUP reloads what changed."""
