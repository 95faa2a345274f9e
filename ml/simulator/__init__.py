"""The presentation simulator: seeded renderings of live faces and attacks from real photos,
for tests, the SDK mock, training and evaluation. Same seed, same frames."""
