"""`python -m kubectl_fed` runs the plugin (handy where PATH is not set up)."""

from kubectl_fed.cli import main

main()
