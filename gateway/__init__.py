"""Wire protocol (msgpack over MQTT v5), broker bridge, client SDK and bot runner."""
