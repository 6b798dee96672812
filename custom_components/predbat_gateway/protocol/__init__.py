"""Predbat gateway protocol: MQTT session, token service client, telemetry and commands.

Nothing in this package imports Home Assistant.
"""
