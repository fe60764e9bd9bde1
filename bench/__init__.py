"""coughwatch performance suite (not tests): ``python -m bench``; see ``bench/README.md``."""
