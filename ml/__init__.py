"""Face perception and liveness models: plain Python, no Django.

Models load lazily, once per process, from local files whose checksums are verified
(`ml.weights`); nothing is downloaded at run time. Results are plain dataclasses.
"""
