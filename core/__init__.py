"""The shared vocabulary at the bottom of the project: neutral events and messages, the clock, and the
ports (channel, speech) that the runtime implements. Imports nothing else of the project."""
