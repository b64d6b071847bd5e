"""Local platform emulators (WeCom, DingTalk) for tests, benchmarks and demos."""
