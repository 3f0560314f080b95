"""`python -m orchestrator.cli`: what the deployment starts its processes with."""

from orchestrator.cli import main

main()
