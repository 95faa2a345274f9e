"""A mobile-SDK mock: plays the SDK side of a liveness session against a server (docs/SDK.md).

It fetches the challenge with the biz_token, renders the capture with the simulator (or takes
a user's frames), and seals `meglive_data` with the challenge's package key. It shares no code
with the server's package reader: it is written from the documented format, like a real SDK.
"""
