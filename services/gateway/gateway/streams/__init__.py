"""Live batch progress: the hub fanning BatchProgressed events out to open streams, the stream
messages (SSE and WebSocket), and the single-use tickets browsers open streams with."""
