"""Scheduled work: periodic jobs claimed once per period (job_runs), and sweeps (deadlines, form expiry).

``Scheduler.tick()`` does all due work for the clock's current time; APScheduler calls it in real time,
tests and the console call it after moving a ManualClock.
"""
