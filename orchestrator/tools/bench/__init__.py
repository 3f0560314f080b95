"""`onestop bench`: file N filings through the JSON API against agencies of a fixed latency,
wait until they are complete, and measure from the database how far each filing's
end-to-end time is from its critical path through the agencies — our orchestration cost.

The critical path is computed from what the agencies themselves measured (the simulators
time every request from its arrival to its final answer, `GET /_sim/durations`), as the
longest path through the filing's graph (stamped at acceptance) weighted by them. Every
number is read after the run: end-to-end times from the `filing` rows (read-only SQL),
agency durations and duplicate effects from the simulators.
"""
