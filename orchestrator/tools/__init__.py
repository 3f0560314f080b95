"""Operational tools built on the core: the load benchmark, the demo, scenario replay, the
supervised deployment (`onestop up`), the embedded runtime and health probes.

They depend on the domain, the services and the API; nothing in the core imports them.
"""
